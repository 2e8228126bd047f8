//! `baton`: the one binary. See [`baton::cli`] for the commands and [`baton::app`] for what
//! `serve` runs.

fn main() -> std::process::ExitCode {
    baton::cli::main()
}
