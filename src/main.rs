fn main() {
    std::process::exit(runp::cli::main());
}
