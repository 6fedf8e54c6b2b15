// Access to libphonenumber's compiled-in metadata (internal to src/validate): the serialized
// PhoneMetadataCollection that PhoneNumberUtil itself parses at start-up.
#pragma once

#include <phonenumbers/phonemetadata.pb.h>

// Exported by libphonenumber.so (phonenumbers/metadata.h), which installs no header declaring them.
namespace i18n::phonenumbers {
int metadata_size();
const void* metadata_get();
}  // namespace i18n::phonenumbers

namespace omt::validate::detail {

// False if the bytes do not parse (a libphonenumber / protobuf mismatch); `out` is then unspecified.
inline bool load_phone_metadata(i18n::phonenumbers::PhoneMetadataCollection& out) {
  return out.ParseFromArray(i18n::phonenumbers::metadata_get(), i18n::phonenumbers::metadata_size());
}

}  // namespace omt::validate::detail
