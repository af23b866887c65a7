// What FaceService answers about a tenant's people, faces and matches: its own types, so that
// callers (HTTP, the command line) need neither the repositories' rows nor the index's matches.

import Foundation
import Storage

/// A person of a tenant: the client's id for them, and how many faces they have.
public struct Person: Sendable, Equatable {
    public var id: String
    public var faceCount: Int
    public var createdAt: Date

    public init(id: String, faceCount: Int, createdAt: Date) {
        self.id = id
        self.faceCount = faceCount
        self.createdAt = createdAt
    }
}

/// One enrolled face of a person, as listed (never its template).
public struct EnrolledFace: Sendable, Equatable {
    public var id: UUID
    public var createdAt: Date

    public init(id: UUID, createdAt: Date) {
        self.id = id
        self.createdAt = createdAt
    }
}

/// A person a probe matched: their best face and its cosine score.
public struct Match: Sendable, Equatable {
    public var personID: String
    public var faceID: UUID
    public var score: Float

    public init(personID: String, faceID: UUID, score: Float) {
        self.personID = personID
        self.faceID = faceID
        self.score = score
    }
}

extension Person {
    init(_ record: FaceRepository.PersonRecord) {
        self.init(id: record.id, faceCount: record.faceCount, createdAt: record.createdAt)
    }
}
