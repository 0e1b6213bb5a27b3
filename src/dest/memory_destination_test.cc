#include "dest/memory_destination.h"

#include <gtest/gtest.h>

#include "conformance/destination_conformance.h"

namespace ck {
namespace {

using test::ConformanceTarget;
using test::DestinationConformance;

INSTANTIATE_TEST_SUITE_P(Memory, DestinationConformance,
                         ::testing::Values(ConformanceTarget{
                             .name = "memory",
                             .make = [] { return std::make_unique<MemoryDestination>(); }}),
                         [](const auto& info) { return info.param.name; });

TEST(MemoryDestinationTest, FaultHookScriptsFailures) {
  MemoryDestination m;
  m.set_fault_hook([](std::string_view op, const std::string&) {
    return op == "Put" ? Status(ErrorKind::kTransient, "boom") : Status::OK();
  });
  MemoryBody body("x");
  auto r = m.Put({.key = "k", .body = &body, .md5 = Md5("x")});
  EXPECT_EQ(r.status().kind(), ErrorKind::kTransient);
  EXPECT_EQ(m.calls("Put"), 1u);
  EXPECT_EQ(m.object_count(), 0u);
}

}  // namespace
}  // namespace ck
