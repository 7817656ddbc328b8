// Package pricingv1 is the Go form of titan.pricing.v1
// (proto/titan/pricing/v1/pricing.proto): catalog and campaign commands,
// price checks, PriceChanged events and the state kept per SKU. The .pb.go
// file is generated; change the .proto and run schemas/generate.sh.
package pricingv1
