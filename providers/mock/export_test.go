package mock

// ReportForm exposes the encoder of the mock's reports to the fuzz tests.
var ReportForm = reportForm
