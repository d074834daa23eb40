# Schema used by serde_test.cc to exercise brook::CapnpRecord.
@0x9c949a8cd75b5c03;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("brook::serde_test");

struct Reading {
  sensorId @0 :UInt64;
  name @1 :Text;
  value @2 :Float64;
  tags @3 :List(Text);
  payload @4 :Data;
  location @5 :Location;
}

struct Location {
  latitude @0 :Float64;
  longitude @1 :Float64;
}
