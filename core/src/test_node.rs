//! For tests that run a real `node`: whether there is one on PATH.

pub fn node_available() -> bool {
    let found = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("node not on PATH: skipping a test that needs a real Node");
    }
    found
}
