// Loaded into s3rver by the tests (node --require). s3rver leaves an error of
// a file-system race unhandled (a write into a folder that a delete has just
// removed), which ends its process; it is logged here instead, and the
// request it failed is retried by the client.
process.on("uncaughtException", (error) => {
  console.error("s3rver: uncaught exception:", error);
});
