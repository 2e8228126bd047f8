//! `baton`: the one binary. See [`baton::cli`] for the commands and [`baton::app`] for what
//! `serve` runs.

/// mimalloc rather than glibc's malloc: a request allocates and frees many small buffers
/// (headers, JSON, Redis replies) on two or more worker threads, and glibc's allocator took about
/// 14 % of the answer path's CPU (`docs/PERFORMANCE.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    baton::cli::main()
}
