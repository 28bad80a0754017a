// swift-tools-version:6.0
import Foundation
import PackageDescription

// Fuzz targets (libFuzzer) for the code that reads bytes anyone can write to a stream,
// and a micro-benchmark of the codec. A package of its own, so the main `swift build`
// never builds them; run them with scripts/fuzz.sh.
//
// The root package is a path dependency (`..`, or CODEC_BENCH_ROOT: the benchmark
// builds against an older checkout that way). A path dependency's identity is its
// directory's name, which differs between checkouts, so it is computed here.
let rootPath = Context.environment["CODEC_BENCH_ROOT"] ?? ".."
let rootURL = URL(fileURLWithPath: rootPath, relativeTo: URL(fileURLWithPath: Context.packageDirectory + "/"))
let root = rootURL.standardizedFileURL.lastPathComponent.lowercased()
/// Checkouts from before EventCodec had the codec inside EventBus (only CodecBench builds there).
let codec = Context.environment["CODEC_BENCH_ROOT"] == nil ? "EventCodec" : "EventBus"

let package = Package(
    name: "fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: rootURL.standardizedFileURL.path)
    ],
    targets: [
        .target(name: "CFuzzerDriver"),
        // The envelope parser (RawEvent) on stream entries made from the fuzz bytes.
        .executableTarget(
            name: "FuzzEnvelope",
            dependencies: [
                "CFuzzerDriver",
                .product(name: "EventBus", package: root),
                .product(name: "RedisClient", package: root),
            ]
        ),
        // EventDataDecoder on the fuzz bytes as JSON, and encode/decode round trips.
        .executableTarget(
            name: "FuzzDecoder",
            dependencies: ["CFuzzerDriver", .product(name: codec, package: root)]
        ),
        // µs per encode and decode of the benchmark's event (scripts/fuzz.sh does not run it).
        .executableTarget(
            name: "CodecBench",
            dependencies: [.product(name: "EventBus", package: root)]
        ),
    ]
)
