// Loaded by mocha before every suite (see .mocharc.json).
// The AWS SDK warns once per process that its releases after January 2027 need Node 22; the
// tests run on Node 20 on purpose (the supported floor), so the warning is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
