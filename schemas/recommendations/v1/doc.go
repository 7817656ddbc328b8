// Package recommendationsv1 is the Go form of titan.recommendations.v1
// (proto/titan/recommendations/v1/recommendations.proto): view events, item
// pairs and the state kept per user, order and item. The .pb.go file is
// generated; change the .proto and run schemas/generate.sh.
package recommendationsv1
