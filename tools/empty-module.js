// Stands in for Node built-ins that CommonJS packages probe for (tweetnacl looks for 'crypto'); XS has none.
export default {};
