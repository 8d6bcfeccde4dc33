// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title PoolTerms
/// @notice The governed parameters of one risk pool: coverage limit per cover
/// type, pause, the covered-contract list, the premium model, and the oracle
/// set with its k-of-n threshold. Only the timelock (so only a proposal that
/// passed a vote and waited out the delay) changes them. An emergency guardian
/// may pause, nothing else: its pause lapses after `guardianPauseDuration`
/// unless the timelock confirms it, and it cannot pause again until as long
/// again has passed, so it can never hold the pool paused by itself.
/// @dev Every change bumps `version` and emits an event carrying it; readers
/// take `snapshot()` at a final block, one call for everything.
contract PoolTerms {
    /// @notice Cover types (ids 0..4): protocol, position, oracle, governance, liquidity.
    uint8 public constant COVER_TYPES = 5;
    uint256 public constant MAX_ORACLES = 32;
    uint32 public constant BPS = 10_000;

    struct PremiumModel {
        uint32 baseRateBps; // yearly premium at zero utilisation
        uint32 kinkBps; // utilisation where the steeper slope starts
        uint32 slopeBelowBps; // added per 100% utilisation below the kink
        uint32 slopeAboveBps; // added per 100% utilisation above the kink
    }

    /// @notice The only account that may change terms (the BallastTimelock).
    address public immutable timelock;
    /// @notice The risk pool these terms govern (informational; the pool does not call here).
    address public immutable pool;
    uint64 public immutable guardianPauseDuration;

    address public guardian;
    uint256 public version;
    bool public paused; // governance pause: only governance lifts it
    uint64 public guardianPausedUntil; // guardian pause in force while block.timestamp < this
    uint64 public guardianReadyAt; // the guardian may pause again from this time

    uint256[COVER_TYPES] private _limits;
    PremiumModel private _premium;
    address[] private _oracles;
    uint8 public oracleThreshold;
    address[] private _covered;
    mapping(address => uint256) private _coveredIndex; // position + 1; 0 = not covered

    event CoverageLimitSet(uint8 indexed coverType, uint256 limit, uint256 version);
    event PausedSet(bool paused, uint256 version);
    event GuardianPaused(address indexed guardian, uint64 until, uint256 version);
    event PauseConfirmed(uint256 version);
    event CoveredContractAdded(address indexed target, uint256 version);
    event CoveredContractRemoved(address indexed target, uint256 version);
    event PremiumModelSet(uint32 baseRateBps, uint32 kinkBps, uint32 slopeBelowBps, uint32 slopeAboveBps, uint256 version);
    event OraclesSet(address[] oracles, uint8 threshold, uint256 version);
    event GuardianSet(address indexed guardian, uint256 version);

    error NotTimelock(address caller);
    error GuardianCannotChangeTerms(address guardian);
    error GuardianCannotUnpause(address guardian);
    error NotGuardian(address caller);
    error GuardianPauseActive(uint64 until);
    error GuardianCoolingDown(uint64 readyAt);
    error NoGuardianPause();
    error UnknownCoverType(uint8 coverType);
    error ZeroAddress();
    error AlreadyCovered(address target);
    error NotCovered(address target);
    error InvalidPremiumModel();
    error InvalidThreshold(uint256 threshold, uint256 oracles);
    error DuplicateOracle(address oracle);
    error ZeroDuration();
    /// @notice The guardian's only power is to pause: it cannot also be the timelock.
    error GuardianIsTimelock();

    modifier onlyTimelock() {
        if (msg.sender != timelock) {
            if (msg.sender == guardian) revert GuardianCannotChangeTerms(msg.sender);
            revert NotTimelock(msg.sender);
        }
        _;
    }

    constructor(address timelock_, address pool_, address guardian_, uint64 guardianPauseDuration_) {
        if (timelock_ == address(0) || pool_ == address(0) || guardian_ == address(0)) revert ZeroAddress();
        if (guardianPauseDuration_ == 0) revert ZeroDuration();
        if (guardian_ == timelock_) revert GuardianIsTimelock();
        timelock = timelock_;
        pool = pool_;
        guardian = guardian_;
        guardianPauseDuration = guardianPauseDuration_;
    }

    // ---- governed setters (timelock only; the governor allows only these) ----

    function setCoverageLimit(uint8 coverType, uint256 limit) external onlyTimelock {
        if (coverType >= COVER_TYPES) revert UnknownCoverType(coverType);
        _limits[coverType] = limit;
        emit CoverageLimitSet(coverType, limit, ++version);
    }

    /// @notice Governance pause or unpause. Unpausing also lifts a guardian pause.
    function setPaused(bool value) external {
        if (msg.sender == guardian) {
            if (!value) revert GuardianCannotUnpause(msg.sender);
            revert GuardianCannotChangeTerms(msg.sender);
        }
        if (msg.sender != timelock) revert NotTimelock(msg.sender);
        paused = value;
        if (!value) guardianPausedUntil = 0;
        emit PausedSet(value, ++version);
    }

    /// @notice Make the guardian's running pause a governance pause (it no longer lapses).
    function confirmPause() external onlyTimelock {
        if (block.timestamp >= guardianPausedUntil) revert NoGuardianPause();
        paused = true;
        guardianPausedUntil = 0;
        emit PauseConfirmed(++version);
    }

    function addCoveredContract(address target) external onlyTimelock {
        if (target == address(0)) revert ZeroAddress();
        if (_coveredIndex[target] != 0) revert AlreadyCovered(target);
        _covered.push(target);
        _coveredIndex[target] = _covered.length;
        emit CoveredContractAdded(target, ++version);
    }

    function removeCoveredContract(address target) external onlyTimelock {
        uint256 index = _coveredIndex[target];
        if (index == 0) revert NotCovered(target);
        address last = _covered[_covered.length - 1];
        _covered[index - 1] = last;
        _coveredIndex[last] = index;
        _covered.pop();
        delete _coveredIndex[target];
        emit CoveredContractRemoved(target, ++version);
    }

    function setPremiumModel(uint32 baseRateBps, uint32 kinkBps, uint32 slopeBelowBps, uint32 slopeAboveBps)
        external
        onlyTimelock
    {
        if (kinkBps > BPS || slopeAboveBps < slopeBelowBps) revert InvalidPremiumModel();
        _premium = PremiumModel(baseRateBps, kinkBps, slopeBelowBps, slopeAboveBps);
        emit PremiumModelSet(baseRateBps, kinkBps, slopeBelowBps, slopeAboveBps, ++version);
    }

    /// @notice Replace the oracle set; `threshold` of them must agree (1 <= k <= n).
    function setOracles(address[] calldata oracleSet, uint8 threshold) external onlyTimelock {
        uint256 n = oracleSet.length;
        if (n > MAX_ORACLES || threshold == 0 || threshold > n) revert InvalidThreshold(threshold, n);
        for (uint256 i = 0; i < n; ++i) {
            if (oracleSet[i] == address(0)) revert ZeroAddress();
            for (uint256 j = 0; j < i; ++j) {
                if (oracleSet[j] == oracleSet[i]) revert DuplicateOracle(oracleSet[i]);
            }
        }
        _oracles = oracleSet;
        oracleThreshold = threshold;
        emit OraclesSet(oracleSet, threshold, ++version);
    }

    function setGuardian(address guardian_) external onlyTimelock {
        if (guardian_ == address(0)) revert ZeroAddress();
        if (guardian_ == timelock) revert GuardianIsTimelock();
        guardian = guardian_;
        emit GuardianSet(guardian_, ++version);
    }

    // ---- the guardian's one power ----

    /// @notice Pause now, for `guardianPauseDuration` seconds unless governance confirms it.
    function guardianPause() external {
        if (msg.sender != guardian) revert NotGuardian(msg.sender);
        if (block.timestamp < guardianPausedUntil) revert GuardianPauseActive(guardianPausedUntil);
        if (block.timestamp < guardianReadyAt) revert GuardianCoolingDown(guardianReadyAt);
        uint64 until = uint64(block.timestamp) + guardianPauseDuration;
        guardianPausedUntil = until;
        guardianReadyAt = until + guardianPauseDuration;
        emit GuardianPaused(msg.sender, until, ++version);
    }

    // ---- views ----

    /// @notice Paused by governance, or by the guardian and not yet lapsed.
    function isPaused() public view returns (bool) {
        return paused || block.timestamp < guardianPausedUntil;
    }

    function coverageLimit(uint8 coverType) external view returns (uint256) {
        if (coverType >= COVER_TYPES) revert UnknownCoverType(coverType);
        return _limits[coverType];
    }

    function isCovered(address target) external view returns (bool) {
        return _coveredIndex[target] != 0;
    }

    function coveredContracts() external view returns (address[] memory) {
        return _covered;
    }

    function oracles() external view returns (address[] memory) {
        return _oracles;
    }

    function premiumModel() external view returns (PremiumModel memory) {
        return _premium;
    }

    /// @notice Everything in force at this block, in one call.
    function snapshot()
        external
        view
        returns (
            uint256 version_,
            bool paused_,
            uint64 guardianPausedUntil_,
            uint256[COVER_TYPES] memory limits,
            PremiumModel memory premium,
            address[] memory oracleSet,
            uint8 threshold,
            address[] memory covered
        )
    {
        return (version, isPaused(), guardianPausedUntil, _limits, _premium, _oracles, oracleThreshold, _covered);
    }
}
