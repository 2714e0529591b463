// Package e2e holds tests that run `oncall serve` as real child processes
// and do real damage to them: kill -9 in the middle of escalations, two
// processes sharing one database, and a database that goes away under
// load. They build the binary once (TestMain), host the provider fakes in
// the test process and judge the server only by what reaches the fakes and
// what is in the database. They are skipped with -short.
package e2e
