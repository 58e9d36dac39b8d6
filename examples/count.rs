use phonehome::capture::{Block, CaptureFile};
fn main() {
    for a in std::env::args().skip(1) {
        let mut f = match CaptureFile::open(a.as_ref()) { Ok(f) => f, Err(e) => { println!("{a}\tERR {e}"); continue } };
        let mut b = Block::default();
        let mut n = 0u64;
        let mut err = String::new();
        loop { match f.fill(&mut b, 1<<21) { Ok(true) => n += b.packets.len() as u64, Ok(false) => break, Err(e) => { err = e.to_string(); break } } }
        println!("{a}\t{n}\t{:?}\t{err}", f.stats());
    }
}
