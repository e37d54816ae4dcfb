package e2ee

import (
	"bytes"
	"reflect"
	"testing"
)

func TestContentRoundtrip(t *testing.T) {
	tests := []Content{
		{Text: "hi"},
		{Text: ""},
		{Text: "<b>&</b> 👋", ReplyTo: 7},
		{Text: "photo", Media: &Media{ID: "m-1", Type: "image/png", Size: 10, Key: make([]byte, 32), SHA256: "ab", Width: 3, Height: 4}},
	}
	for _, c := range tests {
		b, err := c.Marshal()
		if err != nil {
			t.Fatalf("%+v: Marshal: %v", c, err)
		}
		got, err := UnmarshalContent(b)
		if err != nil {
			t.Fatalf("%s: Unmarshal: %v", b, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("roundtrip = %+v, want %+v", got, c)
		}
	}
}

func TestContentMarshalIsCompactAndUnescaped(t *testing.T) {
	got, err := Content{Text: "<b>&</b>", ReplyTo: 3}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"text":"<b>&</b>","replyTo":3}`; string(got) != want {
		t.Fatalf("Marshal = %s, want %s", got, want)
	}
}

func TestUnmarshalContent(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{"text":"hi"}`, true},
		{`{"text":"hi","reactions":["👍"]}`, true}, // a newer client's field
		{`{}`, true},
		{`{"text":"x","replyTo":-1}`, false},
		{`{"text":"x","media":{"id":"m","type":"image/png","key":"AAAA"}}`, false}, // 3-byte key
		{`{"text":"x","media":{"type":"image/png","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}`, false},
		{`{"text":"x","media":{"id":"m","type":"image/png","size":-1,"key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}`, false},
		{`{"text":"x","media":{"id":"m","type":"image/png","key":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}}`, true},
		{`"text"`, false},
		{`[]`, false},
		{``, false},
		{"{\"text\":\"\xff\"}", true}, // encoding/json replaces invalid UTF-8 with U+FFFD
	}
	for _, tt := range tests {
		_, err := UnmarshalContent([]byte(tt.in))
		if got := err == nil; got != tt.ok {
			t.Errorf("UnmarshalContent(%s) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestContentRefusesInvalidUTF8(t *testing.T) {
	if _, err := (Content{Text: "\xff"}).Marshal(); err == nil {
		t.Fatal("Marshal of invalid UTF-8 text succeeded")
	}
}

func TestMedia(t *testing.T) {
	data := bytes.Repeat([]byte("pixels"), 1000)
	sm, err := SealMedia(data)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(sm.Blob), len(data)+12+16; got != want {
		t.Fatalf("blob %d bytes, want %d", got, want)
	}
	if bytes.Contains(sm.Blob, []byte("pixels")) {
		t.Fatal("blob contains plaintext")
	}
	got, err := OpenMedia(sm.Blob, sm.Key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("OpenMedia: %v", err)
	}
	tampered := bytes.Clone(sm.Blob)
	tampered[20] ^= 1
	other, _ := SealMedia(data)
	for name, tt := range map[string]struct {
		blob, key []byte
		want      error
	}{
		"tampered":  {tampered, sm.Key, ErrDecrypt},
		"truncated": {sm.Blob[:len(sm.Blob)-1], sm.Key, ErrDecrypt},
		"too short": {sm.Blob[:27], sm.Key, ErrDecrypt},
		"other key": {sm.Blob, other.Key, ErrDecrypt},
		"short key": {sm.Blob, sm.Key[:16], ErrKey},
	} {
		if _, err := OpenMedia(tt.blob, tt.key); !errorsIs(err, tt.want) {
			t.Errorf("%s: OpenMedia = %v, want %v", name, err, tt.want)
		}
	}
}
