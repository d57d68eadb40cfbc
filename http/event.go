package http

import (
	"fmt"
	"net/http"

	"github.com/autodebit/autodebit"
)

// listEvents serves GET /v1/events: newest first, filtered by type, object
// and creation time.
func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := query{r: r}
	f := autodebit.EventFilter{
		Type: autodebit.EventType(q.str("type")), ObjectID: q.str("objectId"),
		CreatedAfter: q.time("createdAfter"), CreatedBefore: q.time("createdBefore"), Limit: q.limit(), Offset: q.int("offset"),
	}
	if f.Type != "" && !f.Type.Valid() {
		q.fail("type", fmt.Sprintf("is %q, not one of the event types (%s)", f.Type, autodebit.EventTypeList()))
	}
	if q.err != nil {
		return q.err
	}
	items, total, err := s.store.FindEvents(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, listOf(items, total, toEvent))
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := s.store.FindEventByID(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, toEvent(e))
}
