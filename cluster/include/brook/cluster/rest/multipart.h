// multipart/form-data (RFC 7578), the body of file uploads: HttpClient::PostFile writes it and
// a route such as Flink's POST /jars/upload reads its file with ParseMultipartFormData.
//
// Threading: pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace brook::http {

struct MultipartPart {
  std::string name;          // the form field: Content-Disposition's name
  std::string filename;      // Content-Disposition's filename, "" for a plain field
  std::string content_type;  // the part's Content-Type, "" if none
  std::string data;
};

// Parses a multipart/form-data body given its request's Content-Type (which carries the
// boundary). nullopt, with the reason in *error, if the content type is not multipart/form-data
// with a valid boundary (1..70 characters, RFC 2046), a delimiter or part header is malformed, a
// part lacks its form-data name, or the closing delimiter is missing. Bytes after the closing
// delimiter (the epilogue) are ignored.
std::optional<std::vector<MultipartPart>> ParseMultipartFormData(std::string_view content_type,
                                                                 std::string_view body,
                                                                 std::string* error);

// The first part named `name`, or nullptr. The pointer lives as long as `parts`.
const MultipartPart* FindPart(const std::vector<MultipartPart>& parts, std::string_view name);

// A multipart/form-data body of one file part, and the Content-Type to send it with. The
// boundary is chosen so that it does not occur in `data`.
struct EncodedMultipart {
  std::string content_type;
  std::string body;
};
EncodedMultipart EncodeMultipartFile(std::string_view field_name, std::string_view filename,
                                     std::string_view data,
                                     std::string_view part_content_type = "application/octet-stream");

}  // namespace brook::http
