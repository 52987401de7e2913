// FileSignature: what a file is now — inode, size and modification time — as a short text.
// Code that builds something from a file (a TLS context from certificates, a CA bundle) keeps
// the signature it built from and, with one stat(2), tells that the file was written or
// replaced since (a rename onto it changes the inode). Any thread.
#pragma once

#include <string>

namespace slipway {

// "inode:size:seconds.nanoseconds", or "-" when the file cannot be stat'ed.
std::string FileSignature(const std::string& path);

}  // namespace slipway
