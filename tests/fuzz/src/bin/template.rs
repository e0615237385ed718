//! The SAM / CloudFormation template loader on any YAML (or JSON) text.

fn main() {
    let options = sam_template::Options::default();
    afl::fuzz!(|data: &[u8]| {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = sam_template::Template::from_yaml(text, &options);
        }
    });
}
