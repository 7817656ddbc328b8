package schemas

import recommendationsv1 "github.com/titan-commerce/titan/schemas/recommendations/v1"

// ValidateViewEvent checks a view event before it is produced or applied,
// reporting the first broken rule, in field order, as an *InvalidError.
// Every id follows the id rule and stays out of Titan's namespace; the
// session id may be left empty.
func ValidateViewEvent(v *recommendationsv1.ViewEvent) error {
	if v == nil {
		return invalid("", ReasonNilMessage)
	}
	if err := CheckClientID("event_id", v.GetEventId(), ReasonMissingEventID); err != nil {
		return err
	}
	if err := CheckClientID("user_id", v.GetUserId(), ReasonMissingUserID); err != nil {
		return err
	}
	if err := CheckSKU("sku", v.GetSku()); err != nil {
		return err
	}
	if err := CheckOptionalID("session_id", v.GetSessionId()); err != nil {
		return err
	}
	if err := RefuseReserved("session_id", v.GetSessionId()); err != nil {
		return err
	}
	if v.GetTimestampMs() <= 0 {
		return invalid("timestamp_ms", ReasonInvalidTimestamp)
	}
	return nil
}
