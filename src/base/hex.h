// Lower-case hexadecimal of bytes: digests (SHA-256 of tokens, sessions, migrations) and
// random tokens are written this way, two digits per byte, most significant nibble first.
// Stateless; any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace slipway {

// "00ff10" for {0x00, 0xff, 0x10}.
std::string HexEncode(const unsigned char* data, size_t n);
inline std::string HexEncode(std::string_view bytes) {
  return HexEncode(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace slipway
