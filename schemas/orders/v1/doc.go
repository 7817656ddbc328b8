// Package ordersv1 is the Go form of titan.orders.v1
// (proto/titan/orders/v1/orders.proto): the order events a shop's checkout
// publishes. The .pb.go file is generated; change the .proto and run
// schemas/generate.sh. Topics, keys, validation and the versioning rules are
// in package schemas.
package ordersv1
