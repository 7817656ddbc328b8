// Package fraudv1 is the Go form of titan.fraud.v1
// (proto/titan/fraud/v1/fraud.proto): fraud observations, decisions and the
// features kept per device, card and user. The .pb.go file is generated;
// change the .proto and run schemas/generate.sh.
package fraudv1
