// The non-template part of brook::Serde: the explicit instantiations that a custom Boost
// archive needs. Boost's own archives have theirs compiled into libboost_serialization; ours
// (detail::BoundedBinaryIArchive, serde_boost.h) gets them here, once for the whole program.
#include "brook/runtime/serde.h"

#include <boost/archive/impl/archive_serializer_map.ipp>
#include <boost/archive/impl/basic_binary_iarchive.ipp>
#include <boost/archive/impl/basic_binary_iprimitive.ipp>

namespace boost::archive {

template class detail::archive_serializer_map<brook::detail::BoundedBinaryIArchive>;
template class basic_binary_iprimitive<brook::detail::BoundedBinaryIArchive, char,
                                       std::char_traits<char>>;
template class basic_binary_iarchive<brook::detail::BoundedBinaryIArchive>;
template class binary_iarchive_impl<brook::detail::BoundedBinaryIArchive, char,
                                    std::char_traits<char>>;

}  // namespace boost::archive
