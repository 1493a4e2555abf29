//! Nothing to build. `protoc-bin-vendored` is a build-dependency so that cargo downloads and
//! unpacks the vendored `protoc` binary, which `tools/protoc` (the workspace's `PROTOC`, set in
//! `.cargo/config.toml`) runs for libsignal's build script. Here we only warn early when this
//! platform has no vendored binary.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    match protoc_bin_vendored::protoc_bin_path() {
        Ok(path) if path.is_file() => {}
        Ok(path) => println!(
            "cargo::warning=vendored protoc missing at {}; set PROTOC",
            path.display()
        ),
        Err(e) => println!("cargo::warning={e}; set PROTOC to a protoc binary"),
    }
}
