// Package liveness lets the instances of a deployment see at once that one
// of them died, so that its partitions move without waiting out the
// consumer groups' session timeout.
//
// A consumer group learns that a member died only when the member's
// heartbeats have been missing for the session timeout (6 s, the least a
// broker accepts by default), and every partition the member owned is
// silent that long. A lower timeout is not the answer: a member that a busy
// machine keeps from heartbeating is then dropped while it still writes,
// and nothing fences its late writes off. What is wanted is evidence of
// death, not a shorter guess, and a killed process leaves it: the kernel
// closes its sockets, and nothing listens on its port any more.
//
// Each instance runs a Beacon: a listener that greets every connection
// with the instance's incarnation (random, new each start) and then holds
// it open until the instance has stopped its processors. The instance puts
// the beacon's address and incarnation into the metadata of every consumer
// group member it joins (MemberData). Each instance runs a Watcher over the
// groups it is in: it reads the members' metadata, holds a connection to
// every other incarnation's beacon, and when one drops it dials again at
// once. Only when the dial is refused, or answered by another incarnation,
// after a connection to the right one was held, is the incarnation dead;
// the watcher then removes its members from the groups (LeaveGroup on their
// behalf), and the groups rebalance as they would on a clean leave.
//
// Anything short of that evidence changes nothing: a peer that is slow, or
// frozen, or cut off by the network keeps its connection or fails the dial
// with something other than a refusal, and the session timeout decides as
// before. A peer that was never reached (its advertised address does not
// lead to it from here) is never removed.
package liveness
