// Package inventoryv1 is the Go form of titan.inventory.v1
// (proto/titan/inventory/v1/inventory.proto): inventory commands, their
// result events and the inventory processor's table values. The .pb.go file
// is generated; change the .proto and run schemas/generate.sh. Topics, keys,
// validation and the versioning rules are in package schemas.
package inventoryv1
