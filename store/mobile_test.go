package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/oncall/oncall"
	"github.com/oncall/oncall/store"
	"github.com/oncall/oncall/store/storetest"
)

var mobileT0 = time.Date(2026, time.November, 2, 9, 0, 0, 0, time.UTC)

func mobileSetup(t *testing.T) (context.Context, store.Querier) {
	t.Helper()
	pool := storetest.New(t)
	apply(t, pool, storetest.NewSet(storetest.User("alice"), storetest.User("bob")), false)
	return context.Background(), pool
}

// pair makes a code for user and redeems it: a new session.
func pair(t *testing.T, ctx context.Context, q store.Querier, user, label string, now time.Time) (token string, tok store.MobileToken) {
	t.Helper()
	code, err := store.PairingCodeCreate(ctx, q, user, now)
	if err != nil {
		t.Fatal(err)
	}
	token, got, err := store.PairingCodeRedeem(ctx, q, code, label, now)
	if err != nil || got != user {
		t.Fatalf("redeem = %q, %v; want %s", got, err, user)
	}
	tok, err = store.MobileTokenLookup(ctx, q, token, now)
	if err != nil {
		t.Fatal(err)
	}
	return token, tok
}

func TestPairingCode(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)

	code, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := store.NormalizePairingCode(code); !ok || n != code || len(code) != store.PairingCodeLength {
		t.Fatalf("code %q is not a normalized pairing code", code)
	}
	for _, c := range "01IO" {
		if strings.ContainsRune(code, c) {
			t.Errorf("code %q has the look-alike %q", code, c)
		}
	}

	// People type codes in lower case, with a dash or spaces.
	typed := strings.ToLower(code[:4]) + "-" + code[4:6] + " " + code[6:]
	token, user, err := store.PairingCodeRedeem(ctx, q, typed, "  Alice's\tiPhone\n", mobileT0.Add(time.Minute))
	if err != nil || user != "alice" || len(token) < 40 {
		t.Fatalf("redeem = %q, %q, %v", token, user, err)
	}
	tok, err := store.MobileTokenLookup(ctx, q, token, mobileT0.Add(time.Minute))
	if err != nil || tok.User != "alice" || tok.Label != "Alice's iPhone" || !tok.CreatedAt.Equal(mobileT0.Add(time.Minute)) {
		t.Fatalf("lookup = %+v, %v", tok, err)
	}

	// Once only, and the same answer as for a wrong or malformed code.
	for _, c := range []string{code, "ABCDEFGH", "abc", "", "ABCDEFG0"} {
		if _, _, err := store.PairingCodeRedeem(ctx, q, c, "", mobileT0.Add(2*time.Minute)); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("redeem %q: %v; want ErrNotFound", c, err)
		}
	}
	if _, err := store.PairingCodeCreate(ctx, q, "mallory", mobileT0); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("code for an unknown user: %v; want ErrNotFound", err)
	}
}

func TestPairingCodeExpires(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)
	late, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	inTime, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	if late == inTime {
		t.Fatal("two codes are the same")
	}
	if _, _, err := store.PairingCodeRedeem(ctx, q, late, "", mobileT0.Add(store.PairingCodeTTL)); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("redeem at expiry: %v; want ErrNotFound", err)
	}
	if _, user, err := store.PairingCodeRedeem(ctx, q, inTime, "", mobileT0.Add(store.PairingCodeTTL-time.Second)); err != nil || user != "alice" {
		t.Errorf("redeem a second before expiry = %q, %v", user, err)
	}
	// Expired codes are swept when the next one is made.
	if _, err := store.PairingCodeCreate(ctx, q, "bob", mobileT0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM mobile_pairing_codes`).Scan(&n); err != nil || n != 1 {
		t.Errorf("%d codes left, %v; want only the new one", n, err)
	}
}

func TestPairingCodeRedeemedOnce(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)
	code, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := store.PairingCodeRedeem(ctx, q, code, "", mobileT0)
			switch {
			case err == nil:
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, oncall.ErrNotFound):
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d redeems of one code won; want 1", wins)
	}
}

func TestMobileSecretsAreStoredHashed(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)
	code, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	unused, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := store.PairingCodeRedeem(ctx, q, code, "pixel", mobileT0)
	if err != nil {
		t.Fatal(err)
	}
	dump := dumpDatabase(t, q)
	if !strings.Contains(dump, "pixel") {
		t.Fatalf("the dump does not show the session:\n%s", dump)
	}
	for _, secret := range []string{code, unused, token} {
		if strings.Contains(dump, secret) {
			t.Errorf("the database holds the secret %q itself", secret)
		}
		sum := sha256.Sum256([]byte(secret))
		if !strings.Contains(dump, hex.EncodeToString(sum[:])) {
			t.Errorf("the database does not hold the hash of %q", secret)
		}
	}
}

func TestMobileTokens(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)
	token, tok := pair(t, ctx, q, "alice", "iphone", mobileT0)
	_, second := pair(t, ctx, q, "alice", "ipad", mobileT0.Add(time.Second))
	_, bobs := pair(t, ctx, q, "bob", "", mobileT0)
	if bobs.Label != "phone" {
		t.Errorf("default label %q; want phone", bobs.Label)
	}

	// last_used_at moves, but at most once a minute.
	got, err := store.MobileTokenLookup(ctx, q, token, mobileT0.Add(30*time.Second))
	if err != nil || !got.LastUsedAt.Equal(mobileT0) {
		t.Errorf("lookup after 30s: last used %v, %v; want unchanged", got.LastUsedAt, err)
	}
	got, err = store.MobileTokenLookup(ctx, q, token, mobileT0.Add(2*time.Minute))
	if err != nil || !got.LastUsedAt.Equal(mobileT0.Add(2*time.Minute)) || got.ID != tok.ID {
		t.Errorf("lookup after 2m = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "x", token + "x"} {
		if _, err := store.MobileTokenLookup(ctx, q, bad, mobileT0); !errors.Is(err, oncall.ErrNotFound) {
			t.Errorf("lookup %q: %v; want ErrNotFound", bad, err)
		}
	}

	list, err := store.MobileTokenList(ctx, q, "alice")
	if err != nil || len(list) != 2 || list[0].ID != tok.ID || list[1].ID != second.ID || list[1].Label != "ipad" {
		t.Fatalf("list = %+v, %v", list, err)
	}

	// Only its owner revokes a session; it stops working at once and takes
	// its devices with it.
	if _, err := store.DeviceRegister(ctx, q, tok.ID, "alice", store.PlatformAPNs, strings.Repeat("ab", 32), mobileT0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DeviceRegister(ctx, q, second.ID, "alice", store.PlatformFCM, "fcm-token:1", mobileT0); err != nil {
		t.Fatal(err)
	}
	if err := store.MobileTokenRevoke(ctx, q, "bob", tok.ID, mobileT0); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("bob revokes alice's session: %v; want ErrNotFound", err)
	}
	if err := store.MobileTokenRevoke(ctx, q, "alice", tok.ID, mobileT0); err != nil {
		t.Fatal(err)
	}
	if err := store.MobileTokenRevoke(ctx, q, "alice", tok.ID, mobileT0); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("second revoke: %v; want ErrNotFound", err)
	}
	if _, err := store.MobileTokenLookup(ctx, q, token, mobileT0); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("lookup of a revoked token: %v; want ErrNotFound", err)
	}
	devs, err := store.DevicesForUser(ctx, q, "alice")
	if err != nil || len(devs) != 1 || devs[0] != (store.Device{Platform: store.PlatformFCM, Token: "fcm-token:1"}) {
		t.Errorf("devices after revoking the iPhone's session = %+v, %v", devs, err)
	}
}

func TestDevices(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)
	_, phone := pair(t, ctx, q, "alice", "iphone", mobileT0)
	_, pixel := pair(t, ctx, q, "alice", "pixel", mobileT0)
	_, bobs := pair(t, ctx, q, "bob", "iphone", mobileT0)
	apnsToken := strings.Repeat("0a1B", 16)

	d, err := store.DeviceRegister(ctx, q, phone.ID, "alice", store.PlatformAPNs, apnsToken, mobileT0)
	if err != nil || d.Token != strings.ToLower(apnsToken) || d.MobileTokenID != phone.ID || !d.CreatedAt.Equal(mobileT0) {
		t.Fatalf("register = %+v, %v", d, err)
	}
	if _, err := store.DeviceRegister(ctx, q, pixel.ID, "alice", store.PlatformFCM, "f1:abc", mobileT0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	// Again: the same row, updated.
	d, err = store.DeviceRegister(ctx, q, phone.ID, "alice", store.PlatformAPNs, apnsToken, mobileT0.Add(time.Hour))
	if err != nil || !d.CreatedAt.Equal(mobileT0) || !d.UpdatedAt.Equal(mobileT0.Add(time.Hour)) {
		t.Fatalf("register again = %+v, %v", d, err)
	}
	want := []store.Device{{Platform: "apns", Token: strings.ToLower(apnsToken)}, {Platform: "fcm", Token: "f1:abc"}}
	if got, err := store.DevicesForUser(ctx, q, "alice"); err != nil || !equalDevices(got, want) {
		t.Fatalf("devices = %+v, %v; want %+v", got, err, want)
	}

	// A token rotates: the session's new token replaces its old one.
	if _, err := store.DeviceRegister(ctx, q, pixel.ID, "alice", store.PlatformFCM, "f2:def", mobileT0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want[1].Token = "f2:def"
	if got, err := store.DevicesForUser(ctx, q, "alice"); err != nil || !equalDevices(got, want) {
		t.Fatalf("devices after rotation = %+v, %v; want %+v", got, err, want)
	}

	// The phone now belongs to bob: the token moves.
	d, err = store.DeviceRegister(ctx, q, bobs.ID, "bob", store.PlatformAPNs, apnsToken, mobileT0.Add(3*time.Hour))
	if err != nil || d.MobileTokenID != bobs.ID || !d.CreatedAt.Equal(mobileT0.Add(3*time.Hour)) {
		t.Fatalf("register on bob = %+v, %v", d, err)
	}
	if got, _ := store.DevicesForUser(ctx, q, "alice"); !equalDevices(got, want[1:]) {
		t.Errorf("alice's devices after the move = %+v", got)
	}
	if got, _ := store.DevicesForUser(ctx, q, "bob"); !equalDevices(got, want[:1]) {
		t.Errorf("bob's devices = %+v", got)
	}

	// A session registers only for its own user.
	if _, err := store.DeviceRegister(ctx, q, bobs.ID, "alice", store.PlatformFCM, "f3", mobileT0); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("register through bob's session for alice: %v; want ErrNotFound", err)
	}
	for _, c := range []struct{ platform, token string }{
		{"gcm", "f3"}, {"apns", "xyz"}, {"apns", "abc"}, {"fcm", ""}, {"fcm", "a b"}, {"fcm", strings.Repeat("a", 4097)},
	} {
		if _, err := store.DeviceRegister(ctx, q, pixel.ID, "alice", c.platform, c.token, mobileT0); !errors.Is(err, oncall.ErrInvalid) {
			t.Errorf("register %s %q: %v; want ErrInvalid", c.platform, c.token, err)
		}
	}

	// Removing: only one's own device; in either case for APNs.
	if err := store.DeviceRemove(ctx, q, "alice", apnsToken); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("alice removes bob's device: %v; want ErrNotFound", err)
	}
	if err := store.DeviceRemove(ctx, q, "bob", strings.ToUpper(apnsToken)); err != nil {
		t.Errorf("bob removes his device: %v", err)
	}
	if got, _ := store.DevicesForUser(ctx, q, "bob"); len(got) != 0 {
		t.Errorf("bob's devices after removal = %+v", got)
	}

	// The provider's word: gone, whoever had them.
	if err := store.DevicesRemoveTokens(ctx, q, []string{"f2:def", "unknown"}); err != nil {
		t.Fatal(err)
	}
	if err := store.DevicesRemoveTokens(ctx, q, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := store.DevicesForUser(ctx, q, "alice"); len(got) != 0 {
		t.Errorf("alice's devices after removing unregistered tokens = %+v", got)
	}
}

func equalDevices(a, b []store.Device) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Asking for code after code keeps only the last few alive.
func TestPairingCodesPerUserAreBounded(t *testing.T) {
	t.Parallel()
	ctx, q := mobileSetup(t)
	var codes []string
	for i := range 5 {
		c, err := store.PairingCodeCreate(ctx, q, "alice", mobileT0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	if _, err := store.PairingCodeCreate(ctx, q, "bob", mobileT0); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM mobile_pairing_codes`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d codes, %v; want alice's last 3 and bob's", n, err)
	}
	at := mobileT0.Add(time.Minute)
	if _, _, err := store.PairingCodeRedeem(ctx, q, codes[1], "", at); !errors.Is(err, oncall.ErrNotFound) {
		t.Errorf("an old code: %v", err)
	}
	if _, user, err := store.PairingCodeRedeem(ctx, q, codes[2], "", at); err != nil || user != "alice" {
		t.Errorf("the third newest: %q %v", user, err)
	}
}
