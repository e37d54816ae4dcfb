package function

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"
)

// maxBody caps every request body: the largest legitimate one (a group with
// 256 member ids) is a few KiB.
const maxBody = 64 << 10

// decodeJSON reads r's body into v: JSON only (415), at most maxBody (413),
// no unknown fields and nothing after the value (400, naming the field).
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
	}
	if r.ContentLength > maxBody {
		return problem(http.StatusRequestEntityTooLarge, "body over %d bytes", maxBody)
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeProblem(err)
	}
	var tooLarge *http.MaxBytesError
	switch _, err := dec.Token(); {
	case errors.Is(err, io.EOF):
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, "body over %d bytes", maxBody)
	default:
		return invalid("body", "must hold one JSON object and nothing after it")
	}
	return nil
}

func decodeProblem(err error) *Problem {
	var (
		tooLarge *http.MaxBytesError
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return problem(http.StatusRequestEntityTooLarge, "body over %d bytes", maxBody)
	case errors.Is(err, io.EOF):
		return invalid("body", "empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("body", "malformed JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return invalid(field, "must be %s", jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid(strings.TrimPrefix(err.Error(), "json: unknown field "), "unknown field")
	}
	return invalid("body", "cannot be decoded")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	}
	return "a number"
}
