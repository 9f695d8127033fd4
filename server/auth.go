package server

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
)

// APIToken is one credential of the HTTP API: a name for the logs and
// the token's SHA-256, so that comparing takes the same time whatever
// the token sent and its length.
type APIToken struct {
	Name string
	sum  [32]byte
}

// minTokenLen refuses tokens a person could guess.
const minTokenLen = 16

// LoadAPITokens reads a tokens file: a line each, "NAME TOKEN"; blank
// lines and lines starting with # are skipped. A name or token twice, a
// token shorter than 16 characters or a line that is not two words is an
// error naming the line.
func LoadAPITokens(path string) ([]APIToken, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("api tokens: %w", err)
	}
	defer f.Close()
	var out []APIToken
	names := map[string]bool{}
	sums := map[[32]byte]bool{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words := strings.Fields(line)
		switch {
		case len(words) != 2:
			return nil, fmt.Errorf("api tokens %s, line %d: want NAME TOKEN", path, n)
		case len(words[1]) < minTokenLen:
			return nil, fmt.Errorf("api tokens %s, line %d: token of %s shorter than %d characters", path, n, words[0], minTokenLen)
		case names[words[0]]:
			return nil, fmt.Errorf("api tokens %s, line %d: name %s twice", path, n, words[0])
		}
		t := APIToken{Name: words[0], sum: sha256.Sum256([]byte(words[1]))}
		if sums[t.sum] {
			return nil, fmt.Errorf("api tokens %s, line %d: the token of %s is another's too", path, n, words[0])
		}
		names[t.Name], sums[t.sum] = true, true
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("api tokens %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("api tokens %s: no token", path)
	}
	return out, nil
}

// authorize returns the name of the token an Authorization header
// carries ("Bearer TOKEN"); ok is false without a known one. Every
// token is compared, whichever matches, so the time taken tells nothing.
func authorize(tokens []APIToken, header []byte) (name string, ok bool) {
	secret, found := bytes.CutPrefix(header, []byte("Bearer "))
	if !found {
		return "", false
	}
	sum := sha256.Sum256(bytes.TrimSpace(secret))
	for i := range tokens {
		if subtle.ConstantTimeCompare(sum[:], tokens[i].sum[:]) == 1 {
			name, ok = tokens[i].Name, true
		}
	}
	return name, ok
}
