package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/autodebit/autodebit/postgres"
	"github.com/autodebit/autodebit/storetest"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://app:s3cret@db.example.com:5432/pay", "postgres://app:xxxxx@db.example.com:5432/pay"},
		{"postgresql://app:s3cret@db/pay?sslmode=require", "postgresql://app:xxxxx@db/pay?sslmode=require"},
		{"postgres://app@db/pay?sslmode=disable&password=s3cret", "postgres://app@db/pay?sslmode=disable&password=xxxxx"},
		{"postgres://db/pay?PassWord=s3cret&sslpassword=s3cret&user=app", "postgres://db/pay?PassWord=xxxxx&sslpassword=xxxxx&user=app"},
		{"postgres://db/pay?pass%77ord=s3cret", "postgres://db/pay?pass%77ord=xxxxx"},
		{"postgres://app:p%40ss%2Fw0rd@db/pay", "postgres://app:xxxxx@db/pay"},
		{"postgres://app@db/pay", "postgres://app@db/pay"},
		{"postgres://app:s3#cret@db/pay", "postgres://xxxxx@db/pay"},                  // # breaks the URL: userinfo hidden
		{"postgres://app:s3cret@db:bad/pay?x=1", "postgres://xxxxx@db:bad/pay?xxxxx"}, // unparsable port
		{"postgres://app@db/pay?password=s3#cret", "postgres://app@db/pay?password=xxxxx#xxxxx"},
		{"host=db user=app password=s3cret dbname=pay", "host=db user=app password=xxxxx dbname=pay"},
		{"host=db password = 's3 cr\\'et' dbname=pay", "host=db password = xxxxx dbname=pay"},
		{"PASSWORD=s3cret", "PASSWORD=xxxxx"},
		{"host=db password='s3cret", "[unparsable connection string, redacted]"}, // unterminated quote
		{"not a dsn but password s3cret", "[unparsable connection string, redacted]"},
		{"sqlite:/tmp/autodebit.db", "sqlite:/tmp/autodebit.db"},
		{"", ""},
	} {
		got := postgres.Redact(tc.in)
		if got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(got, "s3") {
			t.Errorf("Redact(%q) = %q still shows the password", tc.in, got)
		}
	}
}

// TestOpen_ErrorHidesPassword checks that a failed connection does not put
// the password in the error serve prints.
func TestOpen_ErrorHidesPassword(t *testing.T) {
	for _, dsn := range []string{
		"postgres://app:s3cretpw@127.0.0.1:1/pay?connect_timeout=5",
		"postgres://app@127.0.0.1:1/pay?password=s3cretpw&connect_timeout=5",
		"host=127.0.0.1 port=1 user=app password=s3cretpw dbname=pay connect_timeout=5",
		"postgres://app:s3cretpw@127.0.0.1:1/pay?sslmode=nonsense",
	} {
		_, err := postgres.Open(context.Background(), dsn, storetest.Config())
		if err == nil {
			t.Fatalf("Open(%s) succeeded", postgres.Redact(dsn))
		}
		if strings.Contains(err.Error(), "s3cretpw") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
}
