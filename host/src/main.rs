//! The `leasebox` command line; see [`leasebox::cli`].

fn main() -> std::process::ExitCode {
    leasebox::cli::main()
}
