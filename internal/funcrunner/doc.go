// Package funcrunner builds agentchat's functions the way `func build`
// does and runs each as its own process, so that local runs and tests
// exercise the same func-go runtime Knative runs.
//
// Build writes func's Go scaffold (from knative.dev/func v0.44.0,
// templates/go/scaffolding/{instanced,static}-{cloudevents,http}) into a
// cache directory: a module "s" whose main.go hands the function to
// knative.dev/func-go, with `replace function => <the function folder>`.
// As under func, only the scaffold's replace lines count; Build adds one
// for every directory replace of the function's go.mod (the SDK, typically),
// resolved against the function folder, plus Options.SDKDir when given.
// Binaries are cached under a hash of everything that goes into them (file
// contents, not folder paths: builds are -trimpath), so a second Build of an
// unchanged function is a lookup, also from another checkout.
//
// Start runs a binary on a loopback port of its own with LISTEN_ADDRESS
// set, as a process group that dies with its parent, prefixes its output
// with the function's name, and returns once /health/readiness answers 200.
package funcrunner
