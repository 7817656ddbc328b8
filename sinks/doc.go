// Package sinks will hold the writers that copy Titan's event streams into
// analytics stores. It is empty until the first sink lands.
package sinks
