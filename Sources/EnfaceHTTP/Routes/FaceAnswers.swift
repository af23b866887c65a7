// The face API's answers, typed: each route returns one of these (Hummingbird's
// `ResponseEncodable`, with `EditedResponse` where the status is not 200), encoded by the
// context's JSON encoder. Ids are lowercase UUID text; scores the shortest decimal of the float.

import FaceService
import Foundation
import Hummingbird
import Tenancy

/// Where a face is in a photo and the detector's score: one shape for answers and problems.
typealias FaceBoxAnswer = Problem.Face

extension Problem.Face {
    init(_ box: FaceBox) {
        self.init(box: box.edges, detectionScore: box.roundedScore)
    }
}

/// POST /v1/persons/{personId}/faces → 201.
struct EnrollAnswer: ResponseEncodable {
    var faceId: String
    var personId: String
    var faceCount: Int
    /// Where the face was, when it came from a photo.
    var face: FaceBoxAnswer?
    /// How many other persons the face matched (`duplicateCheck: warn`), and who (to a key
    /// that may search); absent when the tenant does not check.
    var possibleDuplicateCount: Int?
    var possibleDuplicates: [Problem.Duplicate]?
}

extension EnrollAnswer {
    init(_ enrolled: FaceRegistry.Enrolled, box: FaceBox?) {
        self.init(
            faceId: enrolled.faceID.lowercasedText, personId: enrolled.personID, faceCount: enrolled.faceCount,
            face: box.map(FaceBoxAnswer.init), possibleDuplicateCount: enrolled.possibleDuplicates?.count,
            possibleDuplicates: enrolled.possibleDuplicates?.named.map(Problem.Duplicate.list))
    }
}

extension Problem.Duplicate {
    /// The persons as answers name them.
    static func list(_ matches: [Match]) -> [Problem.Duplicate] {
        matches.map { Problem.Duplicate(personId: $0.personID, score: $0.score.shortestDecimal) }
    }
}

/// A person, as listed.
struct PersonAnswer: ResponseEncodable {
    var personId: String
    var faceCount: Int
    var createdAt: Date

    init(_ person: Person) {
        personId = person.id
        faceCount = person.faceCount
        createdAt = person.createdAt
    }
}

/// A page of a list (`{"persons": […], "next": …}`): its items under their own name, and where
/// the next page begins, null on the last (present either way, as the document says).
struct Page<Item: Encodable & Sendable>: ResponseEncodable {
    let name: String
    let items: [Item]
    let next: String?

    init(_ name: String, _ items: [Item], next: String?) {
        self.name = name
        self.items = items
        self.next = next
    }

    /// A keyset page from what was read with a limit of `limit + 1`: the extra row is not shown,
    /// it only says that another page exists. So the last page has no `next` (a full last page
    /// once pointed to an empty one).
    init<Row>(_ name: String, read rows: [Row], limit: Int, item: (Row) -> Item, cursor: (Row) -> String) {
        let shown = rows.prefix(limit)
        self.init(name, shown.map(item), next: rows.count > limit ? shown.last.map(cursor) : nil)
    }

    struct Key: CodingKey {
        let stringValue: String
        init(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(items, forKey: Key(stringValue: name))
        try container.encode(next, forKey: Key(stringValue: "next"))
    }
}

/// GET /v1/persons/{personId}: the person and its faces' ids.
struct PersonDetail: ResponseEncodable {
    struct FaceAnswer: Encodable {
        var faceId: String
        var createdAt: Date
    }

    var personId: String
    var faceCount: Int
    var createdAt: Date
    var faces: [FaceAnswer]

    init(_ person: Person, faces: [EnrolledFace]) {
        personId = person.id
        faceCount = person.faceCount
        createdAt = person.createdAt
        self.faces = faces.map { FaceAnswer(faceId: $0.id.lowercasedText, createdAt: $0.createdAt) }
    }
}

/// A verdict on one probe (or one face of a photo).
struct VerdictAnswer: Encodable {
    var match: Bool
    var score: Double
    var faceId: String
    /// Where the face was, for each face of a photo.
    var box: [Int]?
    var detectionScore: Double?

    init(_ verification: FaceRegistry.Verification, face: FaceBox? = nil) {
        match = verification.match
        score = verification.score.shortestDecimal
        faceId = verification.faceID.lowercasedText
        box = face.map(\.edges)
        detectionScore = face?.roundedScore
    }
}

/// POST /v1/verify: the verdict (from a photo, the best face's) and, from a photo, each face's.
struct VerifyAnswer: ResponseEncodable {
    var match: Bool
    var score: Double
    var faceId: String
    var threshold: Double
    var thresholdSource: String
    var personId: String
    var faces: [VerdictAnswer]?

    init(person: String, best: FaceRegistry.Verification, faces: [VerdictAnswer]? = nil) {
        match = best.match
        score = best.score.shortestDecimal
        faceId = best.faceID.lowercasedText
        threshold = best.threshold.value
        thresholdSource = best.threshold.source
        personId = person
        self.faces = faces
    }
}

/// A person a probe matched.
struct MatchAnswer: Encodable {
    var personId: String
    var faceId: String
    var score: Double

    init(_ match: Match) {
        personId = match.personID
        faceId = match.faceID.lowercasedText
        score = match.score.shortestDecimal
    }
}

/// POST /v1/search: the matches of an embedding, or each face's of a photo.
struct SearchAnswer: ResponseEncodable {
    struct FaceMatches: Encodable {
        var box: [Int]
        var detectionScore: Double
        var matches: [MatchAnswer]
    }

    var matches: [MatchAnswer]?
    var faces: [FaceMatches]?
    var threshold: Double
    var thresholdSource: String
    var limit: Int

    init(matches: [MatchAnswer]? = nil, faces: [FaceMatches]? = nil, threshold: Threshold, limit: Int) {
        self.matches = matches
        self.faces = faces
        self.threshold = threshold.value
        thresholdSource = threshold.source
        self.limit = limit
    }
}

/// POST /v1/compare: the score and verdict; for a photo, the face used.
struct CompareAnswer: ResponseEncodable {
    var score: Double
    var match: Bool
    var threshold: Double
    var thresholdSource: String
    var faceA: FaceBoxAnswer?
    var faceB: FaceBoxAnswer?
}

extension FaceBox {
    /// Three decimals: the detector is not surer than that.
    var roundedScore: Double { (detectionScore * 1_000).rounded() / 1_000 }
}

extension Float {
    /// The shortest decimal that reads back as this float (0.8123, not 0.81230002641677856).
    var shortestDecimal: Double { Double("\(self)") ?? Double(self) }
}

extension UUID {
    /// As every answer writes ids: lowercase.
    var lowercasedText: String { uuidString.lowercased() }
}
