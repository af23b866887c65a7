// The top of the key hierarchy: the master key, where it lives, and the tenant keys it wraps.

import Foundation
import TemplateProtection
import TestSupport
import Testing

@Suite struct KeyWrapTests {
    @Test func aTenantKeyOpensOnlyForItsTenantUnderItsMasterKey() throws {
        let master = MasterKey.generate()
        let tenant = UUID()
        let wrapped = try master.wrap(TenantKey.generate(), tenantID: tenant)
        _ = try master.unwrapTenantKey(wrapped, tenantID: tenant)
        #expect(throws: KeyError.cannotUnwrap) { try master.unwrapTenantKey(wrapped, tenantID: UUID()) }
        #expect(throws: KeyError.cannotUnwrap) { try MasterKey.generate().unwrapTenantKey(wrapped, tenantID: tenant) }
        var flipped = wrapped
        flipped[flipped.count / 2] ^= 0x01
        #expect(throws: KeyError.cannotUnwrap) { try master.unwrapTenantKey(flipped, tenantID: tenant) }
        #expect(throws: KeyError.cannotUnwrap) { try master.unwrapTenantKey(Data(), tenantID: tenant) }
        // Two wraps of one key differ (random nonces).
        let key = TenantKey.generate()
        #expect(try master.wrap(key, tenantID: tenant) != master.wrap(key, tenantID: tenant))
        #expect("\(key)" == "TenantKey(redacted)" && !"\(master)".contains(master.base64))
    }

    @Test func theMasterKeyComesFromTheEnvironmentOrAPrivateFile() throws {
        let directory = try TemporaryDirectory()
        let file = directory.url.appendingPathComponent("secrets/master.key")
        let created = try MasterKey.load(environment: nil, file: file)
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try MasterKey.load(environment: nil, file: file).fingerprint == created.fingerprint)
        #expect(try MasterKey.load(environment: "", file: file).fingerprint == created.fingerprint)

        let other = MasterKey.generate()
        #expect(try MasterKey.load(environment: other.base64, file: file).fingerprint == other.fingerprint)
        let hex = Data(base64Encoded: other.base64)!.map { String(format: "%02x", $0) }.joined()
        #expect(try MasterKey(text: hex).fingerprint == other.fingerprint)
        for bad in ["short", String(repeating: "zz", count: 32), Data(count: 16).base64EncodedString()] {
            #expect(throws: KeyError.malformedMasterKey) { try MasterKey(text: bad) }
        }

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)
        #expect(throws: KeyError.keyFileReadableByOthers(file.path)) { try MasterKey.load(environment: nil, file: file) }
    }
}
