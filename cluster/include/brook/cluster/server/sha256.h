// Sha256: the SHA-256 hash (FIPS 180-4) of a byte stream, incrementally. The blob store names
// blobs by it, so two uploads of the same job library are one blob and a fetched copy can be
// verified against the key it was fetched by. Written here because none of Brook's packages
// offers SHA-256 (OpenSSL is not among them); tests check it against the FIPS examples.
//
// Threading: one object per thread; Of() and Hex() are free of shared state.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace brook::server {

class Sha256 {
 public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();

  void Update(std::span<const std::byte> bytes);
  void Update(std::string_view bytes) { Update(std::as_bytes(std::span(bytes))); }
  // The digest of everything given to Update. The object must not be used afterwards.
  Digest Finish();

  static Digest Of(std::span<const std::byte> bytes);
  // Lower-case hex, 64 characters.
  static std::string Hex(const Digest& digest);

 private:
  void Compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_{};
  size_t block_used_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace brook::server
