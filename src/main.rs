// Planning and applying allocate many small maps; mimalloc measured ~2x
// faster than the system allocator on scripts/bench-engine.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    standby::cli::main()
}
