package e2ee

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestActionContent(t *testing.T) {
	for _, c := range []Content{
		{Edit: &Edit{Ref: 3, Text: "fixed"}},
		{Delete: &Delete{Ref: 3}},
		{React: &Reaction{Ref: 3, Emoji: "👍🏽"}},
		{React: &Reaction{Ref: 3}}, // removes the reaction
	} {
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		got, err := UnmarshalContent(b)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Errorf("%s: %+v, %v", b, got, err)
		}
		if got.Ref() != 3 || got.Kind() == KindMessage {
			t.Errorf("%s: kind %s ref %d", b, got.Kind(), got.Ref())
		}
	}
	// The web client writes these exact shapes (web/actions.js).
	for in, kind := range map[string]string{
		`{"text":"","edit":{"ref":2,"text":"x"}}`: KindEdit,
		`{"delete":{"ref":2}}`:                    KindDelete,
		`{"react":{"ref":2,"emoji":"❤️"}}`:        KindReaction,
		`{"text":"yes","replyTo":2}`:              KindMessage,
	} {
		c, err := UnmarshalContent([]byte(in))
		if err != nil || c.Kind() != kind {
			t.Errorf("%s: kind %q, %v; want %s", in, c.Kind(), err, kind)
		}
	}
	for _, bad := range []string{
		`{"edit":{"ref":2,"text":"x"},"delete":{"ref":2}}`, // two actions
		`{"text":"hi","edit":{"ref":2,"text":"x"}}`,        // text beside an action
		`{"replyTo":1,"react":{"ref":2,"emoji":"x"}}`,
		`{"edit":{"ref":0,"text":"x"}}`,
		`{"edit":{"ref":2,"text":""}}`,
		`{"delete":{}}`,
		`{"react":{"ref":2,"emoji":"` + strings.Repeat("a", MaxEmoji+1) + `"}}`,
	} {
		if _, err := UnmarshalContent([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestCheckAction(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	orig := Entry{Seq: 5, Sender: "alice", StoredAt: t0, Kind: KindMessage, Verified: true}
	by := func(sender string, after time.Duration, verified bool) Entry {
		return Entry{Seq: 9, Sender: sender, StoredAt: t0.Add(after), Verified: verified}
	}
	edit := Content{Edit: &Edit{Ref: 5, Text: "x"}}
	del := Content{Delete: &Delete{Ref: 5}}
	react := Content{React: &Reaction{Ref: 5, Emoji: "👍"}}
	deleted := orig
	deleted.Deleted = true
	anEdit := orig
	anEdit.Kind = KindEdit
	later := orig
	later.Seq = 10
	tests := []struct {
		name     string
		a        Content
		by, orig Entry
		want     error
	}{
		{"own edit in time", edit, by("alice", 14*time.Minute, true), orig, nil},
		{"forged edit by another member", edit, by("mallory", time.Minute, true), orig, ErrNotSender},
		{"edit without a sender", edit, by("", time.Minute, true), orig, ErrNotSender},
		{"unverified edit of a verified message", edit, by("alice", time.Minute, false), orig, ErrNotSender},
		{"edit too late", edit, by("alice", 16*time.Minute, true), orig, ErrTooLate},
		{"own delete after a day", del, by("alice", 24*time.Hour, true), orig, nil},
		{"delete too late", del, by("alice", 49*time.Hour, true), orig, ErrTooLate},
		{"forged delete", del, by("bob", time.Minute, true), orig, ErrNotSender},
		{"edit of a deleted message", edit, by("alice", time.Minute, true), deleted, ErrDeleted},
		{"edit of an edit", edit, by("alice", time.Minute, true), anEdit, ErrNotAMessage},
		{"ref after the action", edit, by("alice", time.Minute, true), later, ErrNotAMessage},
		{"unknown ref", edit, by("alice", time.Minute, true), Entry{}, ErrUnknownRef},
		{"anyone reacts", react, by("bob", 72*time.Hour, false), orig, nil},
		{"reaction to a deleted message", react, by("bob", time.Minute, true), deleted, ErrDeleted},
		{"a message is no action", Content{Text: "hi"}, by("bob", 0, false), Entry{}, nil},
	}
	for _, tt := range tests {
		if got := CheckAction(tt.a, tt.by, tt.orig); !errors.Is(got, tt.want) || (tt.want == nil && got != nil) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
