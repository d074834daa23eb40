#include "brook/cluster/rest/multipart.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <random>

namespace brook::http {
namespace {

constexpr size_t kMaxPartHeaderBytes = 8 * 1024;
constexpr size_t kMaxParts = 1000;

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Parses the `; name=value` parameters after a header's first token (Content-Type's media type,
// Content-Disposition's disposition). Values may be quoted strings with backslash escapes.
// Returns the first token (lower case), or nullopt if a parameter is malformed.
std::optional<std::string> ParseParameters(std::string_view header,
                                           std::vector<std::pair<std::string, std::string>>* params) {
  size_t semicolon = header.find(';');
  std::string first = Lower(Trim(header.substr(0, semicolon)));
  std::string_view rest = semicolon == std::string_view::npos ? "" : header.substr(semicolon + 1);
  while (!(rest = Trim(rest)).empty()) {
    size_t equals = rest.find('=');
    if (equals == std::string_view::npos) return std::nullopt;
    std::string name = Lower(Trim(rest.substr(0, equals)));
    rest = Trim(rest.substr(equals + 1));
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      size_t i = 1;
      for (; i < rest.size() && rest[i] != '"'; ++i) {
        if (rest[i] == '\\' && i + 1 < rest.size()) ++i;
        value.push_back(rest[i]);
      }
      if (i >= rest.size()) return std::nullopt;  // unterminated quoted string
      rest.remove_prefix(i + 1);
      rest = Trim(rest);
      if (!rest.empty() && rest.front() != ';') return std::nullopt;
    } else {
      size_t end = rest.find(';');
      value = std::string(Trim(rest.substr(0, end)));
      rest = end == std::string_view::npos ? "" : rest.substr(end);
    }
    if (name.empty()) return std::nullopt;
    params->emplace_back(std::move(name), std::move(value));
    if (!rest.empty()) rest.remove_prefix(1);  // the ';'
  }
  return first;
}

std::optional<std::string> Parameter(const std::vector<std::pair<std::string, std::string>>& params,
                                     std::string_view name) {
  for (const auto& [key, value] : params)
    if (key == name) return value;
  return std::nullopt;
}

bool ValidBoundary(std::string_view boundary) {
  // RFC 2046 bchars; a space may not end it.
  if (boundary.empty() || boundary.size() > 70 || boundary.back() == ' ') return false;
  static constexpr std::string_view kSpecials = "'()+_,-./:=? ";
  return std::all_of(boundary.begin(), boundary.end(), [](unsigned char c) {
    return std::isalnum(c) || kSpecials.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

// Reads one part's header block (up to and including the empty line) into `part`.
bool ParsePartHeaders(std::string_view block, MultipartPart* part, std::string* error) {
  bool has_disposition = false;
  while (!block.empty()) {
    size_t end = block.find("\r\n");
    std::string_view line = block.substr(0, end);
    block = end == std::string_view::npos ? "" : block.substr(end + 2);
    if (line.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      *error = "malformed multipart part header";
      return false;
    }
    std::string name = Lower(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (name == "content-disposition") {
      std::vector<std::pair<std::string, std::string>> params;
      auto disposition = ParseParameters(value, &params);
      auto field = Parameter(params, "name");
      if (!disposition || *disposition != "form-data" || !field || field->empty()) {
        *error = "multipart part without a form-data name";
        return false;
      }
      part->name = *field;
      part->filename = Parameter(params, "filename").value_or("");
      has_disposition = true;
    } else if (name == "content-type") {
      part->content_type = std::string(value);
    }
  }
  if (!has_disposition) {
    *error = "multipart part without Content-Disposition";
    return false;
  }
  return true;
}

}  // namespace

std::optional<std::vector<MultipartPart>> ParseMultipartFormData(std::string_view content_type,
                                                                 std::string_view body,
                                                                 std::string* error) {
  std::string ignored;
  if (!error) error = &ignored;
  auto fail = [&](std::string message) -> std::optional<std::vector<MultipartPart>> {
    *error = std::move(message);
    return std::nullopt;
  };
  std::vector<std::pair<std::string, std::string>> params;
  auto media_type = ParseParameters(content_type, &params);
  if (!media_type || *media_type != "multipart/form-data")
    return fail("expected Content-Type multipart/form-data");
  auto boundary = Parameter(params, "boundary");
  if (!boundary || !ValidBoundary(*boundary)) return fail("invalid multipart boundary");

  const std::string delimiter = "--" + *boundary;
  const std::string inner_delimiter = "\r\n" + delimiter;
  // The first delimiter opens the body or follows a preamble line.
  size_t pos = 0;
  if (body.substr(0, delimiter.size()) != delimiter) {
    pos = body.find(inner_delimiter);
    if (pos == std::string_view::npos) return fail("multipart body without its boundary");
    pos += 2;
  }
  pos += delimiter.size();

  std::vector<MultipartPart> parts;
  for (;;) {
    if (body.substr(pos, 2) == "--") return parts;  // the closing delimiter
    while (pos < body.size() && (body[pos] == ' ' || body[pos] == '\t')) ++pos;
    if (body.substr(pos, 2) != "\r\n") return fail("malformed multipart delimiter line");
    pos += 2;
    if (parts.size() >= kMaxParts) return fail("too many multipart parts");

    if (body.substr(pos, 2) == "\r\n") return fail("multipart part without Content-Disposition");
    size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string_view::npos || header_end - pos > kMaxPartHeaderBytes)
      return fail("malformed or oversized multipart part headers");
    MultipartPart part;
    if (!ParsePartHeaders(body.substr(pos, header_end - pos), &part, error)) return std::nullopt;
    size_t data_begin = header_end + 4;
    size_t data_end = body.find(inner_delimiter, data_begin);
    if (data_end == std::string_view::npos) return fail("multipart body without closing boundary");
    part.data = std::string(body.substr(data_begin, data_end - data_begin));
    parts.push_back(std::move(part));
    pos = data_end + inner_delimiter.size();
  }
}

const MultipartPart* FindPart(const std::vector<MultipartPart>& parts, std::string_view name) {
  for (const auto& part : parts)
    if (part.name == name) return &part;
  return nullptr;
}

EncodedMultipart EncodeMultipartFile(std::string_view field_name, std::string_view filename,
                                     std::string_view data, std::string_view part_content_type) {
  // Quoted-string content: escape quote and backslash, drop line breaks (they would end the
  // header).
  auto quote = [](std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '\r' || c == '\n') continue;
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    return out + "\"";
  };
  std::random_device seed;
  std::mt19937_64 random(seed());
  std::string boundary;
  do {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(random()));
    boundary = "brook-boundary-" + std::string(hex);
  } while (data.find(boundary) != std::string_view::npos);

  EncodedMultipart out;
  out.content_type = "multipart/form-data; boundary=" + boundary;
  out.body.reserve(data.size() + 256);
  out.body += "--" + boundary + "\r\n";
  out.body += "Content-Disposition: form-data; name=" + quote(field_name) +
              "; filename=" + quote(filename) + "\r\n";
  out.body += "Content-Type: " + std::string(part_content_type) + "\r\n\r\n";
  out.body += data;
  out.body += "\r\n--" + boundary + "--\r\n";
  return out;
}

}  // namespace brook::http
