// Package flashsalev1 is the Go form of titan.flashsale.v1
// (proto/titan/flashsale/v1/flashsale.proto): flash-sale messages, purchase
// results and the flash-sale processor's table values. The .pb.go file is
// generated; change the .proto and run schemas/generate.sh.
package flashsalev1
