fn main() {
    // A pod's pause process is an exec of runp (see linux::pause); it never reaches the CLI.
    if runp::linux::pause::is_pause_program() {
        runp::linux::pause::main()
    }
    std::process::exit(runp::cli::main());
}
