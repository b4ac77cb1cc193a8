//! berthd.
fn main() {}
