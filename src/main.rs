/// mimalloc: the gateway allocates many small, short-lived buffers per message on every runtime
/// thread; glibc's malloc spent about 4% of the gateway's CPU consolidating and searching bins.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    match aupgate::cli::run() {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("aupgate: {error:#}");
            std::process::exit(1);
        }
    }
}
