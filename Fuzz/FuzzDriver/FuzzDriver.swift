// The shared entry of the libFuzzer targets. SwiftPM gives every executable its own main, so libFuzzer's main is
// not the one that runs: each target's main calls `runFuzzer` with its test function, which hands it to libFuzzer's
// driver. (Each target still exports the function as LLVMFuzzerTestOneInput, the symbol libFuzzer's library needs.)
import Foundation

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// Runs libFuzzer's driver on `test` with the process's arguments, and exits with its status.
public func runFuzzer(_ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(runFuzzerDriver(&argc, &argv, test))
}
