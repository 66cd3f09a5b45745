//! Vocabulary and sentence generator of the test corpus: word lists and slot patterns that give
//! each template its own wording with high probability.

use super::Rng;

pub(super) fn words(list: &'static str) -> Vec<&'static str> {
    list.split_whitespace().collect()
}

pub(super) const FIRST: &str = "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth David \
Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Maria Lopez Ahmed Fatima Wei Mei \
Hiroshi Yuki Olga Ivan Pierre Camille Hans Greta Sofia Luca Giulia Pedro Ana Carlos Lucia Noah Emma \
Liam Olivia Ethan Ava Mason Mia Aarav Priya Kwame Amara Sven Ingrid Mateo Valentina Omar Layla";
pub(super) const LAST: &str = "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez \
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White \
Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill \
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Mueller Schmidt Rossi \
Dubois Kowalski Novak Tanaka Suzuki Kim Park Chen Wang Singh Patel Okafor Mensah Larsen";
pub(super) const MAIL_DOMAINS: &str = "gmail.com yahoo.com outlook.com hotmail.com web.de gmx.net orange.fr \
example.org proton.me icloud.com mail.ru fastmail.com";
pub(super) const BRANDS: &str = "Acme Globex Initech Umbrella Hooli Vandelay Stark Wayne Wonka Cyberdyne \
Soylent Tyrell Monarch Oscorp Nakatomi Gringotts Aperture Blackmesa Pied Dunder Sterling Prestige \
Vehement Massive Dynamic Gekko Oceanic Virtucon Zorg Yoyodyne Bluth Krusty Duff Nuka Sirius Weyland \
Tessier Abstergo Ingen Rekall Omni Kaneda Cogswell Spacely Frobozz Zenith Quantum Northwind Contoso \
Fabrikam Litware Adatum Tailspin Woodgrove Lucerne Proseware Wingtip Margie Trey Alpine Coho";
pub(super) const NOUNS: &str = "garden kitchen river mountain library engine bicycle harbor festival market \
orchard museum journey winter summer recipe planet camera guitar lantern meadow bridge village \
forest workshop painting concert season coffee bakery island highway theater blanket compass \
harvest canyon pottery novel puzzle rocket telescope violin backpack cabin sailboat vineyard \
volcano waterfall desert glacier tractor studio courtyard cathedral lighthouse chimney carpet \
mirror feather pebble sunrise thunder whistle ladder basket candle fountain garage hammer \
helmet jacket kettle ladle magnet needle notebook oven pillow quilt ribbon saddle shovel \
teapot umbrella wallet window yogurt zipper sneaker laptop monitor printer router speaker";
pub(super) const VERBS: &str = "brings shapes follows reveals changes protects celebrates explores gathers \
improves connects inspires welcomes carries measures delivers rebuilds discovers balances \
collects supports transforms highlights invites shelters nourishes outlines prepares quiets \
refreshes sharpens strengthens tracks unites values warms";
pub(super) const ADJS: &str = "quiet bright ancient modern gentle bold curious golden hidden vivid rustic \
elegant humble lively silent tiny vast warm crisp fresh clever sturdy rapid patient careful \
cheerful daring eager fancy graceful hearty honest jolly keen loyal merry nimble proud rare \
sleek smooth spicy tender tidy urban vintage wild witty young zesty";
pub(super) const ADVS: &str = "slowly gladly quietly boldly rarely softly truly warmly deeply freely \
kindly neatly openly simply wisely";
pub(super) const PRODUCTS: &str = "Wireless Headphones|Ceramic Mug|Running Shoes|Yoga Mat|Desk Lamp|Water \
Bottle|Phone Case|Backpack|Coffee Grinder|Notebook Set|Bluetooth Speaker|Wool Scarf|Cast Iron \
Pan|Standing Desk|Office Chair|LED Strip|Plant Pot|Chef Knife|Travel Pillow|Sunglasses|Board \
Game|Puzzle Box|Garden Hose|Tool Kit|Tea Sampler|Candle Set|Picture Frame|Bath Towel|Bed Sheet \
Set|Alarm Clock";
pub(super) const TOPICS: &str = "meeting budget contract proposal schedule invoice shipment warehouse \
hiring interview vacation conference website server backup migration release roadmap \
audit training workshop lease renovation insurance mortgage dentist recital tournament";

/// A generated sentence from slot patterns: unique wording per template with high probability.
pub(super) fn sentence(rng: &mut Rng) -> String {
    let (n, v, a, d) = (words(NOUNS), words(VERBS), words(ADJS), words(ADVS));
    match rng.below(6) {
        0 => format!(
            "The {} {} {} every {} near the {}.",
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&v),
            rng.pick(&n),
            rng.pick(&n)
        ),
        1 => format!(
            "Our {} {} {} the {} {} of the {}.",
            rng.pick(&n),
            rng.pick(&d),
            rng.pick(&v),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&n)
        ),
        2 => format!(
            "A {} {} and a {} {} make this {} feel {}.",
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&n),
            rng.pick(&a)
        ),
        3 => format!(
            "This {} we {} {} {} for your {} and {}.",
            rng.pick(&n),
            rng.pick(&d),
            rng.pick(&v).trim_end_matches('s'),
            rng.pick(&n),
            rng.pick(&n),
            rng.pick(&n)
        ),
        4 => format!(
            "Every {} {} {} the {} {} beside a {} {}.",
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&v),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&a),
            rng.pick(&n)
        ),
        _ => format!(
            "Why does the {} {} {} so {} when the {} is {}?",
            rng.pick(&n),
            rng.pick(&d),
            rng.pick(&v).trim_end_matches('s'),
            rng.pick(&a),
            rng.pick(&n),
            rng.pick(&a)
        ),
    }
}

pub(super) fn paragraph_of(rng: &mut Rng, lo: usize, hi: usize) -> String {
    let n = rng.range(lo, hi);
    paragraph(rng, n)
}

pub(super) fn paragraph(rng: &mut Rng, sentences: usize) -> String {
    (0..sentences).map(|_| sentence(rng)).collect::<Vec<_>>().join(" ")
}
