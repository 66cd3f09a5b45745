fn main() {
    match aupgate::cli::run() {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("aupgate: {error:#}");
            std::process::exit(1);
        }
    }
}
