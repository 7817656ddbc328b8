package inventory

import "fmt"

// CheckState returns an error when s breaks a ledger rule: a counter below
// zero, more reserved than on hand, or Reserved not equal to the open
// reservations. Tests call it after every step; the processor calls it
// before writing a state and refuses to write a broken one.
func CheckState(s State) error {
	st := s.Stock
	if st.OnHand < 0 || st.Reserved < 0 || st.Sold < 0 {
		return fmt.Errorf("inventory: negative counter in %+v", st)
	}
	if st.Reserved > st.OnHand {
		return fmt.Errorf("inventory: reserved %d exceeds on hand %d", st.Reserved, st.OnHand)
	}
	var open int64
	seen := make(map[string]bool, len(s.Reservations))
	for _, r := range s.Reservations {
		if seen[r.OrderID] {
			return fmt.Errorf("inventory: two reservations for order %q", r.OrderID)
		}
		seen[r.OrderID] = true
		if r.Status == StatusOpen {
			open += r.Qty
		}
	}
	if open != st.Reserved {
		return fmt.Errorf("inventory: reserved %d but open reservations hold %d", st.Reserved, open)
	}
	return nil
}

// CheckHead returns an error when a head breaks a ledger rule it shows on
// its own: a counter below zero, or more reserved than on hand. (That
// Reserved equals the open reservations takes the whole memory; tests
// check it with CheckState.) The processor calls it before writing a head
// and refuses to write a broken one.
func CheckHead(h Head) error {
	st := h.Stock
	if st.OnHand < 0 || st.Reserved < 0 || st.Sold < 0 {
		return fmt.Errorf("inventory: negative counter in %+v", st)
	}
	if st.Reserved > st.OnHand {
		return fmt.Errorf("inventory: reserved %d exceeds on hand %d", st.Reserved, st.OnHand)
	}
	return nil
}
