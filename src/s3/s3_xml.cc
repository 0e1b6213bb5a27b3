#include "s3/s3_xml.h"

#include <charconv>
#include <cstring>
#include <ctime>
#include <pugixml.hpp>

#include "util/encoding.h"

namespace ck {
namespace {

// Keep whitespace-only text (a key may be " ") and do not rewrite CR LF.
constexpr unsigned kParseFlags =
    (pugi::parse_default & ~pugi::parse_eol) | pugi::parse_ws_pcdata_single;

Status Malformed(std::string_view what, std::string_view why) {
  return Status(ErrorKind::kTransient,
                "malformed " + std::string(what) + " response: " + std::string(why));
}

// Parses xml and checks the root element's name.
Status Load(pugi::xml_document* doc, std::string_view xml, const char* root,
            std::string_view what) {
  if (xml.empty()) return Malformed(what, "empty body");
  pugi::xml_parse_result r =
      doc->load_buffer(xml.data(), xml.size(), kParseFlags, pugi::encoding_utf8);
  if (!r) return Malformed(what, r.description());
  if (std::strcmp(doc->document_element().name(), root) != 0)
    return Malformed(what, "root element is <" + std::string(doc->document_element().name()) +
                               ">, expected <" + root + ">");
  return Status::OK();
}

std::string Text(const pugi::xml_node& n, const char* child) {
  return n.child(child).child_value();
}

bool Truthy(const pugi::xml_node& n, const char* child) {
  return std::string_view(n.child(child).child_value()) == "true";
}

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Decodes a field when the document is URL-encoded.
bool MaybeDecode(bool url, std::string* s) {
  if (!url) return true;
  std::string out;
  if (!UriDecode(*s, &out, /*plus_is_space=*/true)) return false;
  *s = std::move(out);
  return true;
}

bool IsUrlEncoded(const pugi::xml_node& root) {
  return std::string_view(root.child("EncodingType").child_value()) == "url";
}

int64_t DaysFromCivil(int64_t y, int m, int d) {
  // Days since 1970-01-01 in the proleptic Gregorian calendar.
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

std::optional<int64_t> ToMs(int y, int mo, int d, int h, int mi, int s, int ms) {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 || h < 0 || mi < 0 ||
      s < 0)
    return std::nullopt;
  int64_t days = DaysFromCivil(y, mo, d);
  return ((days * 24 + h) * 60 + mi) * 60000 + static_cast<int64_t>(s) * 1000 + ms;
}

}  // namespace

Result<S3ListObjectsResult> ParseListObjectsV2(std::string_view xml) {
  constexpr std::string_view kWhat = "ListObjectsV2";
  pugi::xml_document doc;
  CK_RETURN_IF_ERROR(Load(&doc, xml, "ListBucketResult", kWhat));
  pugi::xml_node root = doc.document_element();
  const bool url = IsUrlEncoded(root);
  S3ListObjectsResult out;
  out.is_truncated = Truthy(root, "IsTruncated");
  out.next_continuation_token = Text(root, "NextContinuationToken");
  for (pugi::xml_node c : root.children("Contents")) {
    S3Object o;
    o.key = Text(c, "Key");
    if (!MaybeDecode(url, &o.key)) return Malformed(kWhat, "bad URL-encoded key");
    if (o.key.empty()) return Malformed(kWhat, "entry without a key");
    if (!ParseNumber(c.child("Size").child_value(), &o.size))
      return Malformed(kWhat, "bad <Size> for a key");
    o.etag = UnquoteEtag(Text(c, "ETag"));
    o.last_modified_ms = ParseIso8601Ms(Text(c, "LastModified")).value_or(0);
    o.storage_class = Text(c, "StorageClass");
    out.objects.push_back(std::move(o));
  }
  for (pugi::xml_node p : root.children("CommonPrefixes")) {
    std::string prefix = Text(p, "Prefix");
    if (!MaybeDecode(url, &prefix)) return Malformed(kWhat, "bad URL-encoded prefix");
    out.common_prefixes.push_back(std::move(prefix));
  }
  if (out.is_truncated && out.next_continuation_token.empty())
    return Malformed(kWhat, "truncated listing without a continuation token");
  return out;
}

Result<S3ListPartsResult> ParseListParts(std::string_view xml) {
  constexpr std::string_view kWhat = "ListParts";
  pugi::xml_document doc;
  CK_RETURN_IF_ERROR(Load(&doc, xml, "ListPartsResult", kWhat));
  pugi::xml_node root = doc.document_element();
  S3ListPartsResult out;
  out.is_truncated = Truthy(root, "IsTruncated");
  std::string_view marker = root.child("NextPartNumberMarker").child_value();
  if (!marker.empty() && !ParseNumber(marker, &out.next_part_number_marker))
    return Malformed(kWhat, "bad <NextPartNumberMarker>");
  for (pugi::xml_node p : root.children("Part")) {
    S3Part part;
    if (!ParseNumber(p.child("PartNumber").child_value(), &part.part_number))
      return Malformed(kWhat, "bad <PartNumber>");
    if (!ParseNumber(p.child("Size").child_value(), &part.size))
      return Malformed(kWhat, "bad <Size> for a part");
    part.etag = UnquoteEtag(Text(p, "ETag"));
    part.last_modified_ms = ParseIso8601Ms(Text(p, "LastModified")).value_or(0);
    out.parts.push_back(std::move(part));
  }
  if (out.is_truncated && out.next_part_number_marker <= 0)
    return Malformed(kWhat, "truncated part list without a next marker");
  return out;
}

Result<S3ListUploadsResult> ParseListMultipartUploads(std::string_view xml,
                                                      bool requested_url_encoding) {
  constexpr std::string_view kWhat = "ListMultipartUploads";
  pugi::xml_document doc;
  CK_RETURN_IF_ERROR(Load(&doc, xml, "ListMultipartUploadsResult", kWhat));
  pugi::xml_node root = doc.document_element();
  const bool markers_url = IsUrlEncoded(root);
  const bool url = markers_url || requested_url_encoding;
  S3ListUploadsResult out;
  out.is_truncated = Truthy(root, "IsTruncated");
  out.next_key_marker = Text(root, "NextKeyMarker");
  out.next_upload_id_marker = Text(root, "NextUploadIdMarker");
  if (!MaybeDecode(markers_url, &out.next_key_marker))
    return Malformed(kWhat, "bad URL-encoded marker");
  for (pugi::xml_node u : root.children("Upload")) {
    S3MultipartUpload up;
    up.key = Text(u, "Key");
    if (!MaybeDecode(url, &up.key)) return Malformed(kWhat, "bad URL-encoded key");
    up.upload_id = Text(u, "UploadId");
    if (up.key.empty() || up.upload_id.empty()) return Malformed(kWhat, "upload without key or ID");
    up.initiated_ms = ParseIso8601Ms(Text(u, "Initiated")).value_or(0);
    out.uploads.push_back(std::move(up));
  }
  for (pugi::xml_node p : root.children("CommonPrefixes")) {
    std::string prefix = Text(p, "Prefix");
    if (!MaybeDecode(url, &prefix)) return Malformed(kWhat, "bad URL-encoded prefix");
    out.common_prefixes.push_back(std::move(prefix));
  }
  if (out.is_truncated && out.next_key_marker.empty() && out.next_upload_id_marker.empty())
    return Malformed(kWhat, "truncated upload list without next markers");
  return out;
}

Result<std::string> ParseInitiateMultipartUpload(std::string_view xml) {
  constexpr std::string_view kWhat = "CreateMultipartUpload";
  pugi::xml_document doc;
  CK_RETURN_IF_ERROR(Load(&doc, xml, "InitiateMultipartUploadResult", kWhat));
  std::string id = Text(doc.document_element(), "UploadId");
  if (id.empty()) return Malformed(kWhat, "no <UploadId>");
  return id;
}

Result<S3CompleteResult> ParseCompleteMultipartUpload(std::string_view xml) {
  constexpr std::string_view kWhat = "CompleteMultipartUpload";
  pugi::xml_document doc;
  CK_RETURN_IF_ERROR(Load(&doc, xml, "CompleteMultipartUploadResult", kWhat));
  pugi::xml_node root = doc.document_element();
  S3CompleteResult out;
  out.etag = UnquoteEtag(Text(root, "ETag"));
  out.key = Text(root, "Key");
  return out;
}

std::optional<S3ErrorDocument> ParseS3Error(std::string_view xml) {
  // Skip leading whitespace: AWS may send spaces while it works on a Complete request.
  size_t start = xml.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return std::nullopt;
  xml.remove_prefix(start);
  pugi::xml_document doc;
  if (!doc.load_buffer(xml.data(), xml.size(), kParseFlags, pugi::encoding_utf8))
    return std::nullopt;
  pugi::xml_node root = doc.document_element();
  if (std::strcmp(root.name(), "Error") != 0) return std::nullopt;
  S3ErrorDocument e;
  e.code = Text(root, "Code");
  e.message = Text(root, "Message");
  e.request_id = Text(root, "RequestId");
  e.resource = Text(root, "Resource");
  return e;
}

std::string XmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string BuildCompleteMultipartUploadXml(const std::vector<std::pair<int, std::string>>& parts) {
  std::string out =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">";
  for (const auto& [number, etag] : parts) {
    out += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" +
           XmlEscape("\"" + UnquoteEtag(etag) + "\"") + "</ETag></Part>";
  }
  out += "</CompleteMultipartUpload>";
  return out;
}

std::string BuildCreateBucketXml(std::string_view region) {
  if (region.empty() || region == "us-east-1") return "";
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
         "<LocationConstraint>" +
         XmlEscape(region) + "</LocationConstraint></CreateBucketConfiguration>";
}

std::string UnquoteEtag(std::string_view etag) {
  if (etag.substr(0, 2) == "W/") etag.remove_prefix(2);
  if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
    etag = etag.substr(1, etag.size() - 2);
  return std::string(etag);
}

std::optional<int64_t> ParseIso8601Ms(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...]Z
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s.back() != 'Z')
    return std::nullopt;
  int y, mo, d, h, mi, sec;
  if (!ParseNumber(s.substr(0, 4), &y) || !ParseNumber(s.substr(5, 2), &mo) ||
      !ParseNumber(s.substr(8, 2), &d) || !ParseNumber(s.substr(11, 2), &h) ||
      !ParseNumber(s.substr(14, 2), &mi) || !ParseNumber(s.substr(17, 2), &sec))
    return std::nullopt;
  int ms = 0;
  std::string_view frac = s.substr(19, s.size() - 20);
  if (!frac.empty()) {
    if (frac[0] != '.' || frac.size() < 2) return std::nullopt;
    frac.remove_prefix(1);
    int scale = 100;
    for (char c : frac) {
      if (c < '0' || c > '9') return std::nullopt;
      ms += (c - '0') * scale;
      scale /= 10;
    }
  }
  return ToMs(y, mo, d, h, mi, sec, ms);
}

std::optional<int64_t> ParseHttpDateMs(std::string_view s) {
  // "Wed, 12 Oct 2009 17:50:00 GMT"
  static constexpr std::string_view kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  size_t comma = s.find(", ");
  if (comma == std::string_view::npos) return std::nullopt;
  s.remove_prefix(comma + 2);
  if (s.size() != 24 || s[2] != ' ' || s[6] != ' ' || s[11] != ' ' || s[14] != ':' ||
      s[17] != ':' || s.substr(20) != " GMT")
    return std::nullopt;
  int d, y, h, mi, sec, mo = 0;
  for (int i = 0; i < 12; ++i)
    if (s.substr(3, 3) == kMonths[i]) mo = i + 1;
  if (mo == 0 || !ParseNumber(s.substr(0, 2), &d) || !ParseNumber(s.substr(7, 4), &y) ||
      !ParseNumber(s.substr(12, 2), &h) || !ParseNumber(s.substr(15, 2), &mi) ||
      !ParseNumber(s.substr(18, 2), &sec))
    return std::nullopt;
  return ToMs(y, mo, d, h, mi, sec, 0);
}

}  // namespace ck
