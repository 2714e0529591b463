package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/oncall/oncall/oncall"
)

// The mobile app's pairing (api/mobile): a user asks for a pairing code
// (PairingCodeCreate, from Slack), types it into the app, and the app trades
// it for a long-lived mobile token (PairingCodeRedeem) that it sends as
// "Authorization: Bearer" from then on (MobileTokenLookup). With that token
// it registers the phone's push token (DeviceRegister), which the paging
// engine reads to page the user by push (DevicesForUser).
//
// Codes and mobile tokens are stored as their SHA-256 only, never as
// themselves: a copy of the database cannot pair a phone or act as one.

// PairingCodeTTL is how long a pairing code can be redeemed.
const PairingCodeTTL = 10 * time.Minute

// PairingCodeLength is the number of characters of a pairing code.
const PairingCodeLength = 8

// maxLiveCodes is how many unused pairing codes a user may hold at once.
const maxLiveCodes = 3

// pairingAlphabet has 32 characters that cannot be mistaken for one another
// when read off a screen and typed (no 0/O, no 1/I): 5 bits a character,
// 40 bits a code.
const pairingAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"

// Push platforms of a device (the same strings as notify.PlatformAPNs and
// notify.PlatformFCM).
const (
	PlatformAPNs = "apns"
	PlatformFCM  = "fcm"
)

// MobileToken is a paired phone's session as stored (never the token
// itself).
type MobileToken struct {
	ID         int64
	User       string
	Label      string // the device's name, as the app gave it ("Alice's iPhone")
	CreatedAt  time.Time
	LastUsedAt time.Time // updated at most once a minute
}

// Device is a phone's push token. Its fields are those of notify.Device,
// so the engine converts it with notify.Device(d).
type Device struct {
	Platform string // PlatformAPNs or PlatformFCM
	Token    string // the provider's device token
}

// RegisteredDevice is a device with its bookkeeping.
type RegisteredDevice struct {
	Device
	MobileTokenID int64 // the session it was registered with
	CreatedAt     time.Time
	UpdatedAt     time.Time // when it was last registered again
}

// lastUsedResolution is how stale a mobile token's last_used_at may get:
// a lookup writes it only when it is older, so that a busy app does not
// write a row on every request.
const lastUsedResolution = time.Minute

const (
	sqlPairingCodePurge = `DELETE FROM mobile_pairing_codes WHERE expires_at <= $1`
	// A user keeps at most maxLiveCodes unused codes: asking for more
	// drops the oldest, so nobody can fill the code space for a guesser.
	sqlPairingCodeTrim = `
DELETE FROM mobile_pairing_codes WHERE id IN (
    SELECT c.id FROM mobile_pairing_codes c JOIN users u ON u.id = c.user_id
    WHERE u.name = $1 AND c.used_at IS NULL
    ORDER BY c.created_at DESC, c.id DESC OFFSET $2)`
	sqlPairingCodeInsert = `
INSERT INTO mobile_pairing_codes (code_hash, user_id, created_at, expires_at)
SELECT $1, u.id, $3, $4 FROM users u WHERE u.name = $2
RETURNING id`
	// One statement consumes the code, so two apps racing with the same
	// code cannot both win.
	sqlPairingCodeConsume = `
UPDATE mobile_pairing_codes SET used_at = $2
WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2
RETURNING user_id`
	sqlMobileTokenInsert = `
INSERT INTO mobile_tokens (token_hash, user_id, label, created_at, last_used_at)
VALUES ($1, $2, $3, $4, $4)
RETURNING (SELECT name FROM users WHERE id = $2)`
	sqlMobileTokenLookup = `
WITH t AS (
    SELECT id, user_id, label, created_at, last_used_at FROM mobile_tokens WHERE token_hash = $1
), touched AS (
    UPDATE mobile_tokens m SET last_used_at = $2
    FROM t WHERE m.id = t.id AND t.last_used_at < $3
    RETURNING m.last_used_at
)
SELECT t.id, u.name, t.label, t.created_at, COALESCE((SELECT last_used_at FROM touched), t.last_used_at)
FROM t JOIN users u ON u.id = t.user_id`
	sqlMobileTokenList = `
SELECT t.id, u.name, t.label, t.created_at, t.last_used_at
FROM mobile_tokens t JOIN users u ON u.id = t.user_id
WHERE u.name = $1 ORDER BY t.created_at, t.id`
	sqlMobileTokenRevoke = `
DELETE FROM mobile_tokens t USING users u
WHERE t.id = $2 AND t.user_id = u.id AND u.name = $1`
	// A session keeps one push token: registering a new one (tokens
	// rotate) replaces what it registered before.
	sqlDeviceReplace = `
DELETE FROM mobile_devices d USING mobile_tokens t, users u
WHERE d.mobile_token_id = t.id AND t.id = $1 AND t.user_id = u.id AND u.name = $2 AND d.token <> $3`
	sqlDeviceUpsert = `
INSERT INTO mobile_devices (platform, token, user_id, mobile_token_id, created_at, updated_at)
SELECT $3, $4, t.user_id, t.id, $5, $5
FROM mobile_tokens t JOIN users u ON u.id = t.user_id
WHERE t.id = $1 AND u.name = $2
ON CONFLICT (token) DO UPDATE SET
    platform = EXCLUDED.platform,
    mobile_token_id = EXCLUDED.mobile_token_id,
    created_at = CASE WHEN mobile_devices.user_id = EXCLUDED.user_id THEN mobile_devices.created_at ELSE EXCLUDED.created_at END,
    updated_at = CASE WHEN mobile_devices.user_id = EXCLUDED.user_id
        THEN GREATEST(mobile_devices.updated_at, EXCLUDED.updated_at) ELSE EXCLUDED.updated_at END,
    user_id = EXCLUDED.user_id
RETURNING platform, token, mobile_token_id, created_at, updated_at`
	sqlDeviceRemove = `
DELETE FROM mobile_devices d USING users u
WHERE d.user_id = u.id AND u.name = $1 AND d.token = $2`
	sqlDeviceList = `
SELECT d.platform, d.token, d.mobile_token_id, d.created_at, d.updated_at
FROM mobile_devices d JOIN users u ON u.id = d.user_id
WHERE u.name = $1 ORDER BY d.created_at, d.id`
	sqlDevicesRemoveTokens = `DELETE FROM mobile_devices WHERE token = ANY($1)`
)

// PairingCodeCreate makes a one-time pairing code for user, valid for
// PairingCodeTTL from now, and returns it: PairingCodeLength characters of
// an alphabet without look-alikes. Only its hash is stored. Codes that
// have expired (anyone's) are deleted on the way, and so are the user's
// oldest unused ones beyond the last few (maxLiveCodes), so that asking
// again and again cannot fill the code space for a guesser.
// oncall.ErrNotFound when there is no such user.
func PairingCodeCreate(ctx context.Context, q Querier, user string, now time.Time) (string, error) {
	var code string
	err := mobileTx(ctx, q, func(q Querier) error {
		if _, err := q.Exec(ctx, sqlPairingCodePurge, now); err != nil {
			return mapErr(err)
		}
		if _, err := q.Exec(ctx, sqlPairingCodeTrim, user, maxLiveCodes-1); err != nil {
			return mapErr(err)
		}
		code = newPairingCode()
		var id int64
		err := q.QueryRow(ctx, sqlPairingCodeInsert, hashSecret(code), user, now, now.Add(PairingCodeTTL)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("user %q: %w", user, oncall.ErrNotFound)
		}
		// A clash with a live code (one in 2^40 per live code) fails the
		// unique index: the caller may simply ask again.
		return mapErr(err)
	})
	if err != nil {
		return "", fmt.Errorf("create pairing code: %w", err)
	}
	return code, nil
}

// newPairingCode is PairingCodeLength random characters of pairingAlphabet.
func newPairingCode() string {
	var b [PairingCodeLength]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	for i := range b {
		b[i] = pairingAlphabet[b[i]&31] // 32 characters: no bias
	}
	return string(b[:])
}

// NormalizePairingCode is code as stored: upper case, without the spaces
// and dashes people type; ok is false when it cannot be a pairing code.
func NormalizePairingCode(code string) (string, bool) {
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return unicode.ToUpper(r)
	}, code)
	if len(code) != PairingCodeLength {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if strings.IndexByte(pairingAlphabet, code[i]) < 0 {
			return "", false
		}
	}
	return code, true
}

// PairingCodeRedeem trades a pairing code for a new mobile token of the
// code's user, labelled label (the phone's name; "phone" when empty, cut at
// 100 characters), and uses the code up. It returns the token, shown this
// once (only its hash is stored), and the user's name. A code that is
// wrong, expired or already used is oncall.ErrNotFound, the same error for
// all three, so a caller learns nothing by guessing.
func PairingCodeRedeem(ctx context.Context, q Querier, code, label string, now time.Time) (token, user string, err error) {
	code, ok := NormalizePairingCode(code)
	if !ok {
		return "", "", fmt.Errorf("redeem pairing code: %w", oncall.ErrNotFound)
	}
	label = cleanLabel(label)
	err = mobileTx(ctx, q, func(q Querier) error {
		var userID int64
		if err := q.QueryRow(ctx, sqlPairingCodeConsume, hashSecret(code), now).Scan(&userID); err != nil {
			return mapErr(err)
		}
		var hash []byte
		token, hash = newSecret()
		return mapErr(q.QueryRow(ctx, sqlMobileTokenInsert, hash, userID, label, now).Scan(&user))
	})
	if err != nil {
		return "", "", fmt.Errorf("redeem pairing code: %w", err)
	}
	return token, user, nil
}

// cleanLabel is a device label fit to store and show.
func cleanLabel(label string) string {
	label = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, label)
	label = strings.Join(strings.Fields(label), " ")
	if label == "" {
		return "phone"
	}
	if utf8.RuneCountInString(label) > 100 {
		label = string([]rune(label)[:100])
	}
	return label
}

// MobileTokenLookup finds the session of a mobile token, by its hash, and
// notes that it was used at now. oncall.ErrNotFound when the token is
// unknown or revoked (the same error).
func MobileTokenLookup(ctx context.Context, q Querier, token string, now time.Time) (MobileToken, error) {
	if token == "" {
		return MobileToken{}, fmt.Errorf("mobile token: %w", oncall.ErrNotFound)
	}
	t, err := scanMobileToken(q.QueryRow(ctx, sqlMobileTokenLookup, hashSecret(token), now, now.Add(-lastUsedResolution)))
	if err != nil {
		return MobileToken{}, fmt.Errorf("mobile token: %w", err)
	}
	return t, nil
}

// MobileTokenList lists user's sessions (their paired phones), oldest
// first.
func MobileTokenList(ctx context.Context, q Querier, user string) ([]MobileToken, error) {
	rows, err := q.Query(ctx, sqlMobileTokenList, user)
	if err != nil {
		return nil, fmt.Errorf("list mobile tokens of %s: %w", user, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (MobileToken, error) { return scanMobileToken(row) })
	if err != nil {
		return nil, fmt.Errorf("list mobile tokens of %s: %w", user, err)
	}
	return out, nil
}

// MobileTokenRevoke ends user's session id: the token stops working and the
// devices registered with it are removed (the row is deleted; nothing of a
// revoked token is kept). oncall.ErrNotFound when user has no such session.
// now is when it happens (kept for the callers' symmetry with the other
// token functions; a deleted row has no revocation time to record).
func MobileTokenRevoke(ctx context.Context, q Querier, user string, id int64, now time.Time) error {
	_ = now
	tag, err := q.Exec(ctx, sqlMobileTokenRevoke, user, id)
	if err != nil {
		return fmt.Errorf("revoke mobile token %d: %w", id, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke mobile token %d: %w", id, oncall.ErrNotFound)
	}
	return nil
}

func scanMobileToken(row pgx.Row) (MobileToken, error) {
	var t MobileToken
	if err := row.Scan(&t.ID, &t.User, &t.Label, &t.CreatedAt, &t.LastUsedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return MobileToken{}, oncall.ErrNotFound
		}
		return MobileToken{}, mapErr(err)
	}
	t.CreatedAt, t.LastUsedAt = t.CreatedAt.UTC(), t.LastUsedAt.UTC()
	return t, nil
}

// CheckDevice validates a push token for platform: an APNs token is hex
// (it is stored in lower case), an FCM token printable ASCII without
// spaces, either at most 4096 characters. The error is an
// *oncall.UserError.
func CheckDevice(platform, token string) (Device, error) {
	switch platform {
	case PlatformAPNs:
		token = strings.ToLower(token)
		if len(token) < 16 || len(token) > 4096 || len(token)%2 != 0 || strings.Trim(token, "0123456789abcdef") != "" {
			return Device{}, &oncall.UserError{Field: "token", Msg: "an APNs device token is an even number of hex digits (64 today)"}
		}
	case PlatformFCM:
		if token == "" || len(token) > 4096 {
			return Device{}, &oncall.UserError{Field: "token", Msg: "an FCM registration token is 1 to 4096 characters"}
		}
		for i := 0; i < len(token); i++ {
			if token[i] <= ' ' || token[i] > '~' {
				return Device{}, &oncall.UserError{Field: "token", Msg: "an FCM registration token is printable ASCII without spaces"}
			}
		}
	default:
		return Device{}, &oncall.UserError{Field: "platform", Msg: fmt.Sprintf(`want "apns" or "fcm", got %q`, platform)}
	}
	return Device{Platform: platform, Token: token}, nil
}

// DeviceRegister registers a phone's push token for user through their
// session tokenID and returns it as stored. It is an upsert: a token
// already known (registered again, or now used by another user or another
// session) moves here. A session keeps one push token, the latest: the
// ones it registered before are removed (tokens rotate). The token is
// checked with CheckDevice; oncall.ErrNotFound when tokenID is not a
// session of user.
func DeviceRegister(ctx context.Context, q Querier, tokenID int64, user, platform, deviceToken string, now time.Time) (RegisteredDevice, error) {
	d, err := CheckDevice(platform, deviceToken)
	if err != nil {
		return RegisteredDevice{}, err
	}
	var out RegisteredDevice
	err = mobileTx(ctx, q, func(q Querier) error {
		if _, err := q.Exec(ctx, sqlDeviceReplace, tokenID, user, d.Token); err != nil {
			return mapErr(err)
		}
		return scanDevice(q.QueryRow(ctx, sqlDeviceUpsert, tokenID, user, d.Platform, d.Token, now), &out)
	})
	if err != nil {
		return RegisteredDevice{}, fmt.Errorf("register %s device of %s: %w", platform, user, err)
	}
	return out, nil
}

// DeviceRemove removes user's push token; oncall.ErrNotFound when user has
// no such device.
func DeviceRemove(ctx context.Context, q Querier, user, deviceToken string) error {
	tag, err := q.Exec(ctx, sqlDeviceRemove, user, deviceToken)
	if lower := strings.ToLower(deviceToken); err == nil && tag.RowsAffected() == 0 && lower != deviceToken {
		// An APNs token is stored in lower case.
		tag, err = q.Exec(ctx, sqlDeviceRemove, user, lower)
	}
	if err != nil {
		return fmt.Errorf("remove device of %s: %w", user, mapErr(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("remove device of %s: %w", user, oncall.ErrNotFound)
	}
	return nil
}

// DevicesForUser is the push tokens of user's phones, oldest first: where
// a page by push goes.
func DevicesForUser(ctx context.Context, q Querier, user string) ([]Device, error) {
	list, err := DeviceList(ctx, q, user)
	if err != nil {
		return nil, err
	}
	out := make([]Device, len(list))
	for i, d := range list {
		out[i] = d.Device
	}
	return out, nil
}

// DeviceList is user's registered devices, oldest first.
func DeviceList(ctx context.Context, q Querier, user string) ([]RegisteredDevice, error) {
	rows, err := q.Query(ctx, sqlDeviceList, user)
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", user, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RegisteredDevice, error) {
		var d RegisteredDevice
		return d, scanDevice(row, &d)
	})
	if err != nil {
		return nil, fmt.Errorf("devices of %s: %w", user, err)
	}
	return out, nil
}

// DevicesRemoveTokens removes the devices with these push tokens, whoever
// they belong to: the provider said they no longer reach an app
// (notify.UnregisteredError). Unknown tokens are ignored.
func DevicesRemoveTokens(ctx context.Context, q Querier, tokens []string) error {
	if len(tokens) == 0 {
		return nil
	}
	if _, err := q.Exec(ctx, sqlDevicesRemoveTokens, tokens); err != nil {
		return fmt.Errorf("remove %d unregistered device(s): %w", len(tokens), mapErr(err))
	}
	return nil
}

func scanDevice(row pgx.Row, d *RegisteredDevice) error {
	if err := row.Scan(&d.Platform, &d.Token, &d.MobileTokenID, &d.CreatedAt, &d.UpdatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return oncall.ErrNotFound
		}
		return mapErr(err)
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	return nil
}

// mobileTx runs fn in a transaction of q's (a savepoint when q is one
// already), so its statements commit together.
func mobileTx(ctx context.Context, q Querier, fn func(Querier) error) error {
	b, ok := q.(interface {
		Begin(ctx context.Context) (pgx.Tx, error)
	})
	if !ok {
		return fn(q)
	}
	return pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error { return fn(tx) })
}
